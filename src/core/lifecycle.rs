//! The lifecycle state machine of the regulation (docs/contract.md "SLA policy").
//! Every function validates before it changes anything, so a refused event
//! leaves the complaint as it was.

use super::clocks::{self, escalate_if_urgent};
use super::complaint::{Complaint, Interner, Milestones, Routing};
use super::decision::{CurrentRouting, DecisionInput, RuleDecision, Rules};
use super::extension;
use super::outputs::Effects;
use super::refusal::{RejectCode, Rejection};
use super::sla::SlaPolicy;
use crate::model::event::{Assigned, EventBody};
use crate::model::output::{StageOutcome, Status};
use crate::model::{Event, Priority, Stage, Timestamp};

/// Fires this complaint's warnings and breaches due before `until`.
pub(super) fn fire_due(c: &mut Complaint, until: Timestamp, inclusive: bool, out: &mut Effects) {
    clocks::fire_due(c, until, inclusive, out);
}

/// Handling begins: the completion clock, and the first-answer clock for a
/// priority that has one.
fn start_handling(c: &mut Complaint, at: Timestamp, policy: &SlaPolicy, out: &mut Effects) {
    clocks::start(c, Stage::Handle, at, policy, out);
    clocks::start(c, Stage::Respond, at, policy, out);
    escalate_if_urgent(c, at, out);
}

fn decide(
    c: &Complaint,
    rules: &dyn Rules,
    previous: Option<Priority>,
    comment: Option<&str>,
) -> RuleDecision {
    rules.decide(&DecisionInput {
        complaint_id: &c.id,
        received: &c.received,
        received_at: c.received_at,
        cycle: c.cycle,
        previous_priority: previous,
        comment,
        current: (c.cycle > 0).then(|| CurrentRouting {
            lead: &c.routing.lead,
            assist: &c.routing.assist,
            by_group: c.routing.by_group,
        }),
    })
}

/// A new complaint: first decision, acknowledge clock, urgent escalation.
pub(super) fn receive(
    ev: &Event,
    rules: &dyn Rules,
    names: &mut Interner,
    out: &mut Effects,
) -> Result<Complaint, Rejection> {
    let EventBody::Received(r) = &ev.body else {
        return Err(Rejection::new(
            RejectCode::UnknownComplaint,
            format!(
                "`{}` for complaint `{}`, which was never received",
                ev.type_name(),
                ev.complaint_id
            ),
        ));
    };
    let at = ev.at();
    // Rules never see contact details: keep them out of the state.
    let mut received = r.clone();
    received.customer.phone = None;
    received.customer.email = None;
    let mut c = Complaint {
        id: ev.complaint_id.as_str().into(),
        received: Box::new(received),
        received_at: at,
        status: Status::Received,
        cycle: 0,
        routing: Routing::from_decision(
            &RuleDecision::fallback("not decided yet"),
            rules.version(),
            names,
        ),
        times: Milestones::default(),
        clock: None,
        respond: None,
        outcomes: Default::default(),
        breaches: 0,
        urgent_escalated: None,
        satisfied: None,
        seen: Vec::with_capacity(8),
        version: 0,
        updated_at: at,
        last_input: None,
        timer_gen: 0,
        timer_due: None,
    };
    let d = decide(&c, rules, None, None);
    c.routing = Routing::from_decision(&d, rules.version(), names);
    out.decisions.push(c.decision(d.reason.clone(), at, &d));
    clocks::start(&mut c, Stage::Acknowledge, at, rules.policy(), out);
    escalate_if_urgent(&mut c, at, out);
    Ok(c)
}

fn invalid(ev: &Event, c: &Complaint, expected: &str) -> Rejection {
    Rejection::new(
        RejectCode::InvalidTransition,
        format!(
            "`{}` is not valid while complaint `{}` is `{}` ({expected})",
            ev.type_name(),
            c.id,
            c.status.as_str()
        ),
    )
}

/// Whether an event may only have come too early: its complaint is not
/// received yet, or has not reached the step the event follows (with an
/// extension decision, the request). Such an event may become valid when
/// the missing events arrive, so it waits for them. An event behind the
/// complaint's step, or dated before its receipt, never will.
pub(super) fn comes_early(c: Option<&Complaint>, ev: &Event) -> bool {
    let Some(c) = c else {
        return !matches!(ev.body, EventBody::Received(_));
    };
    if c.status.is_final() || ev.at() < c.received_at {
        return false;
    }
    let rank = |s: Status| match s {
        Status::Received => 0,
        Status::Acknowledged => 1,
        Status::Handling => 2,
        Status::Handled => 3,
        Status::Reported => 4,
        Status::Closed => 5,
        Status::Archived | Status::Withdrawn => 6,
    };
    let needs = match &ev.body {
        EventBody::Assigned(_) => Status::Acknowledged,
        EventBody::Progress(_) | EventBody::Handled(_) => Status::Handling,
        EventBody::Reported(_) => Status::Handled,
        EventBody::CustomerConfirmed(_) => Status::Reported,
        EventBody::Archived(_) => Status::Closed,
        EventBody::ExtensionDecided(_) => {
            return c
                .clock
                .as_ref()
                .is_some_and(|k| k.pending_extension.is_none());
        }
        _ => return false,
    };
    rank(c.status) < rank(needs)
}

/// Applies a non-`received` event to an existing complaint.
pub(super) fn apply(
    c: &mut Complaint,
    ev: &Event,
    rules: &dyn Rules,
    names: &mut Interner,
    out: &mut Effects,
) -> Result<(), Rejection> {
    let at = ev.at();
    let policy = rules.policy();
    if c.status.is_final() {
        let what = if c.status == Status::Archived {
            "archived"
        } else {
            "withdrawn"
        };
        return Err(Rejection::new(
            RejectCode::ComplaintClosed,
            format!(
                "`{}` after complaint `{}` was {what}; nothing may follow",
                ev.type_name(),
                c.id
            ),
        ));
    }
    if at < c.received_at && !matches!(ev.body, EventBody::Received(_)) {
        return Err(Rejection::new(
            RejectCode::InvalidTransition,
            format!(
                "`{}` at {} is before complaint `{}` was received at {}",
                ev.type_name(),
                ev.occurred_at.to_rfc3339(),
                c.id,
                c.received_at.to_rfc3339()
            ),
        ));
    }
    match &ev.body {
        EventBody::Received(_) => {
            return Err(Rejection::new(
                RejectCode::AlreadyReceived,
                format!(
                    "complaint `{}` was already received (with another event_id)",
                    c.id
                ),
            ));
        }
        EventBody::Acknowledged(_) => {
            if c.status != Status::Received {
                return Err(invalid(
                    ev,
                    c,
                    "acknowledgement comes once, right after receipt",
                ));
            }
            clocks::end(c, Stage::Acknowledge, at, out);
            c.times.acknowledged = Some(at);
            clocks::start(c, Stage::Assign, at, policy, out);
            if c.routing.coordination_required {
                c.status = Status::Acknowledged;
            } else {
                // Automatic assignment to the rules' departments.
                clocks::end(c, Stage::Assign, at, out);
                c.times.assigned = Some(at);
                start_handling(c, at, policy, out);
                c.status = Status::Handling;
            }
        }
        EventBody::Assigned(a) => match c.status {
            Status::Acknowledged => {
                reroute(c, a, names);
                clocks::end(c, Stage::Assign, at, out);
                c.times.assigned = Some(at);
                start_handling(c, at, policy, out);
                c.status = Status::Handling;
            }
            Status::Handling => {
                let before = c.routing.priority;
                // Re-routing keeps the first assignment time: `assigned_at`
                // is when the complaint first reached a department.
                reroute(c, a, names);
                if c.routing.priority != before {
                    clocks::follow_priority(c, at, policy, out);
                }
                escalate_if_urgent(c, at, out);
            }
            // Handled, not yet confirmed: the group may still re-route or
            // raise the priority; the running stage keeps its deadline.
            Status::Handled | Status::Reported => {
                reroute(c, a, names);
                escalate_if_urgent(c, at, out);
            }
            _ => {
                return Err(invalid(
                    ev,
                    c,
                    "assignment needs an acknowledged complaint not yet confirmed",
                ));
            }
        },
        EventBody::Progress(p) => {
            if c.status != Status::Handling {
                return Err(invalid(ev, c, "progress is reported while handling"));
            }
            // The first answer ends `respond`; completion waits for `handled`.
            if clocks::answers(c.routing.priority, p.kind)
                && clocks::running(c, Stage::Respond).is_some()
            {
                clocks::end(c, Stage::Respond, at, out);
                c.times.responded.get_or_insert(at);
            }
        }
        EventBody::ExtensionRequested(x) => extension::request(c, x, at)?,
        EventBody::ExtensionDecided(d) => extension::decide(c, d, at, policy, out)?,
        EventBody::Handled(_) => {
            if c.status != Status::Handling {
                return Err(invalid(ev, c, "handling needs an assigned complaint"));
            }
            // The fix answers the customer too, if nothing did before.
            if clocks::running(c, Stage::Respond).is_some() {
                clocks::end(c, Stage::Respond, at, out);
                c.times.responded.get_or_insert(at);
            }
            clocks::end(c, Stage::Handle, at, out);
            c.times.handled = Some(at);
            clocks::start(c, Stage::Report, at, policy, out);
            // Raised to urgent after a first answer ended the handle clock.
            escalate_if_urgent(c, at, out);
            c.status = Status::Handled;
        }
        EventBody::Reported(_) => {
            if c.status != Status::Handled {
                return Err(invalid(ev, c, "the result report follows handling"));
            }
            clocks::end(c, Stage::Report, at, out);
            c.times.reported = Some(at);
            clocks::start(c, Stage::Confirm, at, policy, out);
            c.status = Status::Reported;
        }
        EventBody::CustomerConfirmed(cc) => {
            if c.status != Status::Reported {
                return Err(invalid(
                    ev,
                    c,
                    "confirmation follows the result report, once per cycle",
                ));
            }
            clocks::end(c, Stage::Confirm, at, out);
            c.times.confirmed = Some(at);
            c.satisfied = Some(cc.satisfied);
            if cc.satisfied {
                c.status = Status::Closed;
            } else {
                reopen(c, at, cc.comment.as_deref(), rules, names, out);
            }
        }
        EventBody::Archived(_) => {
            if c.status != Status::Closed {
                return Err(invalid(ev, c, "archiving needs a satisfied customer"));
            }
            c.times.archived = Some(at);
            c.status = Status::Archived;
        }
        EventBody::Withdrawn(_) => {
            if c.status == Status::Closed {
                return Err(invalid(ev, c, "a satisfied complaint can only be archived"));
            }
            clocks::cancel_all(c, at, out);
            c.times.withdrawn = Some(at);
            c.status = Status::Withdrawn;
        }
    }
    Ok(())
}

/// Not satisfied: a new cycle at `handle` with a fresh rules decision.
fn reopen(
    c: &mut Complaint,
    at: Timestamp,
    comment: Option<&str>,
    rules: &dyn Rules,
    names: &mut Interner,
    out: &mut Effects,
) {
    // Defensive: nothing should run here, but a superseded stage is cancelled.
    clocks::cancel_all(c, at, out);
    let previous = c.routing.priority;
    let previous_lead = c.routing.lead.clone();
    let by_group = c.routing.by_group;
    c.cycle += 1;
    let d = decide(c, rules, Some(previous), comment);
    c.routing = Routing::from_decision(&d, rules.version(), names);
    // Still the group's departments if the rules kept them.
    c.routing.by_group = by_group && c.routing.lead == previous_lead;
    out.decisions.push(c.decision(d.reason.clone(), at, &d));
    c.times.handled = None;
    c.times.reported = None;
    c.times.responded = None;
    for s in [Stage::Respond, Stage::Handle, Stage::Report, Stage::Confirm] {
        c.outcomes[s.index()] = StageOutcome::NotStarted;
    }
    start_handling(c, at, rules.policy(), out);
    c.status = Status::Handling;
}

fn reroute(c: &mut Complaint, a: &Assigned, names: &mut Interner) {
    c.routing.lead = names.get(&a.lead_department);
    c.routing.assist = a.assist_departments.iter().map(|s| names.get(s)).collect();
    if let Some(p) = a.priority {
        c.routing.priority = p;
    }
    // The group has decided: nothing is left to coordinate.
    c.routing.coordination_required = false;
    c.routing.by_group = true;
}
