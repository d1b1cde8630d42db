//! Drivers run the core over a source into sinks: replay (event time) and
//! the demo generator.

pub mod demo;
pub mod diff;
pub mod http;
pub mod live;
pub mod load;
pub mod produce;
pub mod replay;
pub mod summary;

pub use replay::{Replay, ReplayError};
pub use summary::Summary;
