//! `complaintflow notify`: the emergency mechanism reaching people. A
//! service of its own (consumer group `{kafka.group}-notify`) that reads
//! the SLA topic, routes each event by the `[notify]` section of its
//! configuration file (hot-reloaded), and delivers messages to group-chat
//! robots, signed webhooks and e-mail. An event's offset is committed only
//! once every channel it goes to has delivered it or dead-lettered it.
//!
//! Pure: `settings` (the file, checked), `routing`, `message`, `channel`
//! (bodies, signatures, answers), `window` (rate limits), `progress`
//! (offsets). Shell: `context` (category and summary from the decisions
//! and input topics), `deliver` (one task per channel), `send` (HTTP,
//! SMTP, dead letters), `service` (the consumer loop and the tasks).

pub mod channel;
pub mod context;
pub mod deliver;
pub mod message;
pub mod progress;
pub mod routing;
mod send;
mod service;
pub mod settings;
pub mod window;

pub use service::{NotifyError, run};
pub use settings::NotifyConfig;
