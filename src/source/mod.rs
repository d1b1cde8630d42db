//! Where input events come from.

pub mod file;
pub mod kafka;
