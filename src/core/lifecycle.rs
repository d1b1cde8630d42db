//! The lifecycle state machine of the regulation (docs/contract.md "SLA policy").
//! Every function validates before it changes anything, so a refused event
//! leaves the complaint as it was.

use super::complaint::{Complaint, Interner, Milestones, Routing};
use super::decision::{DecisionInput, RuleDecision, Rules};
use super::extension;
use super::outputs::{Outputs, emit};
use super::refusal::{RejectCode, Rejection};
use super::sla::{Due, SlaPolicy, StageClock};
use crate::model::event::{Assigned, EventBody};
use crate::model::output::{StageOutcome, Status};
use crate::model::{Event, Priority, ProgressKind, SlaKind, Stage, Timestamp};

fn start_stage(
    c: &mut Complaint,
    stage: Stage,
    at: Timestamp,
    policy: &SlaPolicy,
    out: &mut Outputs,
) {
    let target = c.routing.target(policy, stage);
    c.clock = Some(StageClock::start(stage, at, target, policy.warning_share));
    c.outcomes[stage.index()] = StageOutcome::Open;
    emit(c, SlaKind::Started, at, None, out);
}

/// Closes the running stage if it is `stage`: `met` in time, `late` after a
/// breach. Evidence of an end in time that arrives after the breach was
/// declared corrects it: `retracted`, then `met`.
fn end_stage(c: &mut Complaint, stage: Stage, at: Timestamp, out: &mut Outputs) {
    let Some(clock) = c.clock.as_ref().filter(|k| k.stage == stage) else {
        return;
    };
    let (kind, outcome) = match (clock.breached, at <= clock.deadline) {
        (false, _) => (SlaKind::Met, StageOutcome::Met),
        (true, false) => (SlaKind::Late, StageOutcome::Late),
        (true, true) => {
            emit(c, SlaKind::Retracted, at, None, out);
            c.breaches = c.breaches.saturating_sub(1);
            (SlaKind::Met, StageOutcome::Met)
        }
    };
    emit(c, kind, at, None, out);
    c.outcomes[stage.index()] = outcome;
    c.clock = None;
}

/// Sends an urgent complaint to the complaint handling group, once per
/// cycle, naming the running stage. Called when urgency appears (the first
/// decision, a reopen, an assignment that raises the priority while the
/// complaint is open) and when a stage starts. With no stage running
/// (handling after a first answer) it waits for the next stage of the
/// cycle: nothing is said of a stage after its end.
fn escalate_if_urgent(c: &mut Complaint, at: Timestamp, out: &mut Outputs) {
    if c.routing.priority != Priority::Urgent || c.urgent_escalated == Some(c.cycle) {
        return;
    }
    if c.clock.is_some() {
        emit(c, SlaKind::Escalated, at, Some("urgent"), out);
        c.urgent_escalated = Some(c.cycle);
    }
}

/// Fires this complaint's warnings and breaches due before `until`
/// (or at it, when `inclusive`).
pub(super) fn fire_due(c: &mut Complaint, until: Timestamp, inclusive: bool, out: &mut Outputs) {
    loop {
        let Some(due) = c.clock.as_ref().and_then(|k| k.next_due()) else {
            return;
        };
        let t = due.at();
        if t > until || (t == until && !inclusive) {
            return;
        }
        let extensions = c.clock.as_ref().map_or(0, |k| k.extensions);
        match due {
            Due::Warning(_) => {
                let detail = (extensions > 0).then(|| extensions.to_string());
                emit(c, SlaKind::Warning, t, detail.as_deref(), out);
                c.clock.as_mut().expect("clock checked").warned = true;
            }
            Due::Breach(_) => {
                emit(c, SlaKind::Breached, t, None, out);
                emit(c, SlaKind::Escalated, t, Some("breach"), out);
                let k = c.clock.as_mut().expect("clock checked");
                k.breached = true;
                k.warned = true;
                let stage = k.stage;
                c.outcomes[stage.index()] = StageOutcome::Breached;
                c.breaches += 1;
            }
        }
        c.version += 1;
        c.updated_at = c.updated_at.max(t);
    }
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
    })
}

/// A new complaint: first decision, acknowledge clock, urgent escalation.
pub(super) fn receive(
    ev: &Event,
    rules: &dyn Rules,
    names: &mut Interner,
    out: &mut Outputs,
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
    start_stage(&mut c, Stage::Acknowledge, at, rules.policy(), out);
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
    out: &mut Outputs,
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
            end_stage(c, Stage::Acknowledge, at, out);
            c.times.acknowledged = Some(at);
            start_stage(c, Stage::Assign, at, policy, out);
            if c.routing.coordination_required {
                c.status = Status::Acknowledged;
            } else {
                // Automatic assignment to the rules' departments.
                end_stage(c, Stage::Assign, at, out);
                c.times.assigned = Some(at);
                start_stage(c, Stage::Handle, at, policy, out);
                c.status = Status::Handling;
            }
        }
        EventBody::Assigned(a) => match c.status {
            Status::Acknowledged => {
                reroute(c, a, names);
                end_stage(c, Stage::Assign, at, out);
                c.times.assigned = Some(at);
                start_stage(c, Stage::Handle, at, policy, out);
                escalate_if_urgent(c, at, out);
                c.status = Status::Handling;
            }
            Status::Handling => {
                let before = c.routing.priority;
                // Re-routing keeps the first assignment time: `assigned_at`
                // is when the complaint first reached a department.
                reroute(c, a, names);
                if c.routing.priority != before {
                    retarget_handle(c, at, policy);
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
            let meets = matches!(
                (c.routing.priority, p.kind),
                (Priority::Urgent, ProgressKind::Response)
                    | (Priority::Important, ProgressKind::PreliminarySolution)
            );
            if meets {
                end_stage(c, Stage::Handle, at, out);
            }
        }
        EventBody::ExtensionRequested(x) => extension::request(c, x, at)?,
        EventBody::ExtensionDecided(d) => extension::decide(c, d, at, policy, out)?,
        EventBody::Handled(_) => {
            if c.status != Status::Handling {
                return Err(invalid(ev, c, "handling needs an assigned complaint"));
            }
            end_stage(c, Stage::Handle, at, out);
            c.times.handled = Some(at);
            start_stage(c, Stage::Report, at, policy, out);
            // Raised to urgent after a first answer ended the handle clock.
            escalate_if_urgent(c, at, out);
            c.status = Status::Handled;
        }
        EventBody::Reported(_) => {
            if c.status != Status::Handled {
                return Err(invalid(ev, c, "the result report follows handling"));
            }
            end_stage(c, Stage::Report, at, out);
            c.times.reported = Some(at);
            start_stage(c, Stage::Confirm, at, policy, out);
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
            end_stage(c, Stage::Confirm, at, out);
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
            if c.clock.is_some() {
                let stage = c.clock.as_ref().map(|k| k.stage).expect("checked");
                emit(c, SlaKind::Cancelled, at, None, out);
                c.outcomes[stage.index()] = StageOutcome::Cancelled;
                c.clock = None;
            }
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
    out: &mut Outputs,
) {
    if let Some(k) = &c.clock {
        // Defensive: nothing should run here, but a superseded stage is cancelled.
        let stage = k.stage;
        emit(c, SlaKind::Cancelled, at, None, out);
        c.outcomes[stage.index()] = StageOutcome::Cancelled;
        c.clock = None;
    }
    let previous = c.routing.priority;
    c.cycle += 1;
    let d = decide(c, rules, Some(previous), comment);
    c.routing = Routing::from_decision(&d, rules.version(), names);
    out.decisions.push(c.decision(d.reason.clone(), at, &d));
    c.times.handled = None;
    c.times.reported = None;
    for s in [Stage::Handle, Stage::Report, Stage::Confirm] {
        c.outcomes[s.index()] = StageOutcome::NotStarted;
    }
    start_stage(c, Stage::Handle, at, rules.policy(), out);
    escalate_if_urgent(c, at, out);
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
}

/// A new priority during handling: the handle deadline follows it from the
/// stage's original start; approved extensions are never taken away.
fn retarget_handle(c: &mut Complaint, at: Timestamp, policy: &SlaPolicy) {
    let target = c.routing.target(policy, Stage::Handle);
    let Some(k) = c
        .clock
        .as_mut()
        .filter(|k| k.stage == Stage::Handle && !k.breached)
    else {
        return;
    };
    let mut deadline = super::clock::saturating_after(k.started_at, target);
    if k.extensions > 0 {
        deadline = deadline.max(k.deadline);
    }
    k.move_deadline(deadline, at, policy.warning_share, false);
}
