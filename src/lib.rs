//! complaintflow: a network company's complaint regulation as a stream processor.

pub mod allocator;
pub mod api;
pub mod cli;
pub mod config;
pub mod core;
pub mod driver;
pub mod kafka_client;
pub mod model;
pub mod notify;
pub mod report;
pub mod rules;
pub mod service;
pub mod sink;
pub mod source;
pub mod telemetry;
