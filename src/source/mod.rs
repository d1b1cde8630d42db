//! Where input events come from, and how far a piece of work reaches into
//! them (`offsets`).

pub mod file;
pub mod kafka;
pub mod offsets;
