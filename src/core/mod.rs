//! The functional core: lifecycle state machine, SLA clocks and the rule
//! decision interface. No IO; every function takes the event and a clock
//! reading and returns outputs, so replay and live run the same code.

pub mod changelog;
pub mod clock;
mod clocks;
pub mod complaint;
pub mod decision;
pub mod early;
pub mod engine;
mod extension;
mod lifecycle;
pub mod outputs;
pub use outputs::{Accepted, Output, Refused};
mod refusal;
pub mod sla;
pub mod step;
pub mod timers;

pub use clock::{Clock, EventTimeClock, WallClock, seconds_after, seconds_before};
pub use complaint::Complaint;
pub use decision::{DecisionInput, RuleDecision, Rules};
pub use early::{Origin, Released};
pub use engine::{Applied, Effects, Engine, RejectCode, Rejection, payload_hash, refuse_future};
pub use sla::SlaPolicy;
pub use step::{Stream, admit};
