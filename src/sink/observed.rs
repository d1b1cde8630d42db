//! Metrics and logs of outputs, as a decorator of any sink: the drivers
//! neither count nor log what their outputs mean.

use super::{OutputSink, SinkError};
use crate::core::{Output, RejectCode};

/// Counts every output put through `S`, and logs an event that failed
/// inside complaintflow (the one refusal that is a bug: ERROR).
pub struct Observed<S>(pub S);

impl<S: OutputSink> OutputSink for Observed<S> {
    fn put(&mut self, o: &Output) -> Result<(), SinkError> {
        match o {
            Output::Event(a) => {
                metrics::counter!("complaintflow_events_in_total", "type" => a.event.type_name())
                    .increment(1)
            }
            Output::Decision(d) => {
                metrics::counter!("complaintflow_decisions_total", "category" => d.category.as_str())
                    .increment(1);
                metrics::counter!("complaintflow_outputs_total", "kind" => "decision").increment(1)
            }
            Output::Sla(e) => {
                metrics::counter!("complaintflow_outputs_total", "kind" => e.kind.as_str())
                    .increment(1)
            }
            Output::DeadLetter(r) => {
                if r.code == RejectCode::InternalError {
                    tracing::error!(source = %r.letter.source, reason = %r.letter.reason,
                        "an event failed inside complaintflow; dead-lettered, the stream goes on");
                }
                metrics::counter!("complaintflow_dead_letters_total", "reason" => r.code.as_str())
                    .increment(1)
            }
            Output::Changed(_) | Output::Complaint(_) => {}
        }
        self.0.put(o)
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        self.0.flush()
    }
}
