//! complaintflow: a network company's complaint regulation as a stream processor.

pub mod core;
pub mod model;
pub mod rules;
pub mod driver;
pub mod sink;
pub mod source;
pub mod cli;
pub mod config;
