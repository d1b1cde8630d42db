//! Each demo complaint's way through the lifecycle: acknowledgement,
//! assignment, handling cycles and reopens, extensions, withdrawals, late
//! and early deliveries, and a few malformed lines.

use super::{DemoConfig, Gen, mins};
use crate::core::decision::DecisionInput;
use crate::model::event::*;
use crate::model::{Priority, ProgressKind};
use chrono::{DateTime, FixedOffset, TimeDelta};
use rand::RngExt;

impl Gen<'_> {
    pub(super) fn complaint(&mut self, i: usize, cfg: &DemoConfig) {
        let cid = format!("CF-{i:06}");
        let window = cfg.days * 24 * 60;
        let t0 = cfg.start + self.between(0, window);
        let received = self.received(i);
        let d = self.rules.decide(&DecisionInput {
            complaint_id: &cid,
            received: &received,
            received_at: t0.to_utc(),
            cycle: 0,
            previous_priority: None,
            comment: None,
            current: None,
        });
        let mut n = 0u32;
        let lead = d.lead_department.clone();
        self.emit(
            &cid,
            &mut n,
            t0,
            &format!("adapter-{}", received.channel),
            EventBody::Received(received),
        );
        let withdraw_point = if self.chance(0.03) {
            self.rng.random_range(0..3)
        } else {
            9
        };
        let late_ack = self.chance(0.08);
        let ack = t0
            + if late_ack {
                self.between(11, 40)
            } else {
                self.between(1, 9)
            };
        if withdraw_point == 0 {
            let at = t0 + self.between(0, 5);
            self.emit(
                &cid,
                &mut n,
                at,
                "customer",
                EventBody::Withdrawn(Withdrawn {
                    reason: Some("resolved itself".into()),
                }),
            );
            return;
        }
        // Some acknowledgements made in time reach the stream late: within
        // the rules' lateness (no effect), or, where the next event is hours
        // away, beyond it (a breach, then its retraction).
        self.ack_delay = if late_ack {
            TimeDelta::zero()
        } else if self.chance(0.04) {
            self.between(1, 4)
        } else if self.chance(0.03) {
            self.between(10, 30)
        } else {
            TimeDelta::zero()
        };
        if !self.emit(
            &cid,
            &mut n,
            ack,
            "cs-agent",
            EventBody::Acknowledged(NoFields {}),
        ) {
            return;
        }
        let mut t = ack;
        if d.coordination_required {
            t = ack
                + if self.chance(0.1) {
                    self.between(31, 70)
                } else {
                    self.between(5, 25)
                };
            let body = EventBody::Assigned(Assigned {
                lead_department: lead.clone(),
                assist_departments: d.assist_departments.clone(),
                priority: Some(d.priority),
            });
            if !self.emit(&cid, &mut n, t, "handling-group", body) {
                return;
            }
        }
        let mut priority = d.priority;
        for cycle in 0..3 {
            let Some(done) =
                self.handle_cycle(&cid, &mut n, t, priority, &lead, withdraw_point == 1)
            else {
                return;
            };
            let reported = done
                + if self.chance(0.06) {
                    self.between(61, 100)
                } else {
                    self.between(10, 50)
                };
            if !self.emit(
                &cid,
                &mut n,
                reported,
                &lead,
                EventBody::Reported(NoFields {}),
            ) {
                return;
            }
            if withdraw_point == 2 && cycle == 0 {
                self.emit(
                    &cid,
                    &mut n,
                    reported + mins(3),
                    "customer",
                    EventBody::Withdrawn(Withdrawn::default()),
                );
                return;
            }
            let confirmed = reported
                + if self.chance(0.06) {
                    self.between(31, 60)
                } else {
                    self.between(5, 25)
                };
            let satisfied = cycle == 2 || self.chance(if cycle == 0 { 0.85 } else { 0.9 });
            let comment = (!satisfied).then(|| {
                self.pick(&["问题没有解决", "still not fixed", "仍然很慢"])
                    .to_string()
            });
            let body = EventBody::CustomerConfirmed(CustomerConfirmed { satisfied, comment });
            if !self.emit(&cid, &mut n, confirmed, "cs-agent", body) {
                return;
            }
            if satisfied {
                if self.chance(0.9) {
                    let at = confirmed + self.between(60, 24 * 60);
                    self.emit(
                        &cid,
                        &mut n,
                        at,
                        "cs-agent",
                        EventBody::Archived(NoFields {}),
                    );
                }
                return;
            }
            // Reopened: the rules see the reopen and usually raise the priority.
            priority = if priority == Priority::Urgent {
                Priority::Urgent
            } else {
                Priority::Important
            };
            t = confirmed;
        }
    }

    /// One handling cycle from `start`; returns when handling finished, or
    /// `None` when the complaint stops here (withdrawn or past the window).
    fn handle_cycle(
        &mut self,
        cid: &str,
        n: &mut u32,
        start: DateTime<FixedOffset>,
        priority: Priority,
        lead: &str,
        withdraw: bool,
    ) -> Option<DateTime<FixedOffset>> {
        // Completion within 24 h for every priority; the first answer
        // within 12 h (important) or 1 h (urgent).
        let target = 24 * 60;
        let respond = match priority {
            Priority::General => 0,
            Priority::Important => 12 * 60,
            Priority::Urgent => 60,
        };
        let mut deadline = start + mins(target);
        let mut steps: Vec<(DateTime<FixedOffset>, &str, EventBody)> = Vec::new();
        let mut not_before = start;
        if priority == Priority::General && self.chance(0.06) {
            let asked = start + self.between(target / 2, target * 3 / 4);
            let until = deadline + mins(12 * 60);
            let reason = "waiting for a spare part".to_string();
            steps.push((
                asked,
                lead,
                EventBody::ExtensionRequested(ExtensionRequested {
                    until,
                    reason,
                    stage: None,
                }),
            ));
            let approved = self.chance(0.8);
            let decided = asked + self.between(10, 60);
            steps.push((
                decided,
                "handling-group",
                EventBody::ExtensionDecided(ExtensionDecided {
                    approved,
                    until: None,
                    stage: None,
                }),
            ));
            if approved {
                deadline = until;
            }
            not_before = decided;
        } else if priority == Priority::General && self.chance(0.01) {
            // Asked too late: the regulation requires asking before the deadline.
            let asked = deadline + self.between(5, 60);
            let body = EventBody::ExtensionRequested(ExtensionRequested {
                until: asked + mins(600),
                reason: "forgot to ask".into(),
                stage: None,
            });
            steps.push((asked, lead, body));
            not_before = asked;
        }
        let span = (deadline - start).num_minutes();
        let late = self.chance(0.07);
        let mut handled = if late {
            deadline + self.between(5, span / 2 + 10)
        } else {
            start + self.between(span / 12, span * 11 / 12)
        };
        if handled <= not_before {
            handled = not_before + self.between(5, 60);
        }
        let until_handled = (handled - start).num_minutes().max(2);
        for _ in 0..self.rng.random_range(0..3) {
            let at = start + self.between(1, until_handled);
            steps.push((
                at,
                lead,
                EventBody::Progress(Progress {
                    note: "investigating".into(),
                    kind: ProgressKind::Update,
                }),
            ));
        }
        let first_answer = match priority {
            Priority::Urgent => Some((ProgressKind::Response, respond / 6, respond * 5 / 6)),
            Priority::Important => Some((
                ProgressKind::PreliminarySolution,
                respond / 12,
                respond * 5 / 6,
            )),
            Priority::General => None,
        };
        if let Some((kind, lo, hi)) = first_answer {
            let at = start
                + if self.chance(0.06) {
                    self.between(respond + 1, respond * 3 / 2)
                } else {
                    self.between(lo, hi)
                };
            if at < handled {
                steps.push((
                    at,
                    lead,
                    EventBody::Progress(Progress {
                        note: "first answer to the customer".into(),
                        kind,
                    }),
                ));
            }
        }
        let finish = if withdraw {
            let at = start + self.between(1, until_handled);
            (
                at,
                "customer",
                EventBody::Withdrawn(Withdrawn {
                    reason: Some("no longer needed".into()),
                }),
            )
        } else {
            let (cause, measures, result) = super::causes::cause_for(lead, cid);
            let body = EventBody::Handled(Handled {
                cause: cause.into(),
                measures: measures.into(),
                result: result.into(),
            });
            (handled, lead, body)
        };
        let finish_at = finish.0;
        steps.retain(|s| s.0 < finish_at);
        steps.sort_by_key(|s| s.0);
        steps.push(finish);
        for (at, actor, body) in steps {
            if !self.emit(cid, n, at, actor, body) {
                return None;
            }
        }
        (!withdraw).then_some(handled)
    }

    /// Delays the delivery of the acknowledgement among the complaint's lines
    /// from `first` on by `ack_delay`, but keeps it a minute ahead of the
    /// complaint's next event: the complaint's own order stays.
    pub(super) fn deliver_ack_late(&mut self, first: usize) {
        let delay = self.ack_delay.num_milliseconds();
        let lines = &mut self.lines[first..];
        let Some(ack) = lines
            .iter()
            .position(|l| l.2.contains("\"complaint.acknowledged\""))
        else {
            return;
        };
        let at = lines[ack].0;
        let next = lines[ack..].iter().map(|l| l.0).find(|&t| t > at);
        let room = next.map_or(delay, |n| n - at - 60_000);
        let delay = delay.min(room);
        if delay <= 0 {
            return;
        }
        for l in lines[ack..].iter_mut().take_while(|l| l.0 == at) {
            l.0 += delay;
        }
    }

    /// Now and then the receipt comes from a slow adapter: it reaches the
    /// stream just after the complaint's acknowledgement (which then waits
    /// for it), within the allowed lateness.
    pub(super) fn deliver_receipt_after_ack(&mut self, first: usize) {
        if self.ack_delay > TimeDelta::zero() || !self.chance(0.03) {
            return;
        }
        let lines = &mut self.lines[first..];
        let at = |kind: &str| lines.iter().find(|l| l.2.contains(kind)).map(|l| l.0);
        let (Some(received), Some(ack)) = (
            at("\"complaint.received\""),
            at("\"complaint.acknowledged\""),
        ) else {
            return;
        };
        if ack - received >= 4 * 60_000 {
            return;
        }
        for l in lines
            .iter_mut()
            .filter(|l| l.2.contains("\"complaint.received\""))
        {
            l.0 = ack + 1;
        }
    }

    /// A few lines a real stream also carries: garbage, truncated JSON,
    /// unknown types, events for complaints nobody received, and one from a
    /// system whose clock is wrong.
    pub(super) fn malformed(&mut self, cfg: &DemoConfig) {
        let count = cfg.complaints / 500 + 3;
        for k in 0..count {
            let at = cfg.start + self.between(0, cfg.days * 24 * 60);
            let ts = at.to_rfc3339();
            let line = match k % 4 {
                0 => "}{ this is not json".to_string(),
                1 => format!(
                    r#"{{"event_id":"bad-{k}","type":"complaint.received","complaint_id":"CF-X{k}","occurred_at":"{ts}","channel":"web""#
                ),
                2 => format!(
                    r#"{{"event_id":"bad-{k}","type":"complaint.escalate_now","complaint_id":"CF-000001","occurred_at":"{ts}"}}"#
                ),
                _ => format!(
                    r#"{{"event_id":"bad-{k}","type":"complaint.reported","complaint_id":"CF-UNKNOWN-{k}","occurred_at":"{ts}"}}"#
                ),
            };
            self.push_line(at, line);
        }
        // A department system whose clock is a lifetime ahead.
        let at = cfg.start + self.between(0, cfg.days * 24 * 60);
        let line = r#"{"event_id":"skewed-1","type":"complaint.progress","complaint_id":"CF-000001","occurred_at":"2099-03-29T10:02:00+08:00","actor":"dept-system","note":"checked the line"}"#;
        self.push_line(at, line.to_string());
    }
}
