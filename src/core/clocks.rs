//! A complaint's running SLA clocks: the lifecycle's sequence (one stage at
//! a time) and, beside `handle`, the first-answer clock `respond`. Starting,
//! ending, cancelling and firing them, with the SLA events each produces.

use super::complaint::Complaint;
use super::outputs::{Effects, emit_for};
use super::sla::{Due, SlaPolicy, StageClock};
use crate::model::output::StageOutcome;
use crate::model::{Priority, ProgressKind, SlaKind, Stage, Timestamp};

/// The slot a stage's clock runs in.
fn slot(c: &Complaint, stage: Stage) -> &Option<StageClock> {
    if stage == Stage::Respond {
        &c.respond
    } else {
        &c.clock
    }
}

fn slot_mut(c: &mut Complaint, stage: Stage) -> &mut Option<StageClock> {
    if stage == Stage::Respond {
        &mut c.respond
    } else {
        &mut c.clock
    }
}

/// The running clock of `stage`, if that stage runs.
pub(super) fn running(c: &Complaint, stage: Stage) -> Option<&StageClock> {
    slot(c, stage).as_ref().filter(|k| k.stage == stage)
}

/// An SLA event about the running clock of `stage` (none if it is not running).
pub(super) fn emit_stage(
    c: &Complaint,
    stage: Stage,
    kind: SlaKind,
    at: Timestamp,
    detail: Option<&str>,
    out: &mut Effects,
) {
    if let Some(k) = running(c, stage) {
        emit_for(c, k, kind, at, detail, out);
    }
}

/// Starts `stage` at `at`. `respond` starts only for a priority with a
/// first-answer target.
pub(super) fn start(
    c: &mut Complaint,
    stage: Stage,
    at: Timestamp,
    policy: &SlaPolicy,
    out: &mut Effects,
) {
    let target = c.routing.target(policy, stage);
    if stage == Stage::Respond && target == 0 {
        return;
    }
    *slot_mut(c, stage) = Some(StageClock::start(stage, at, target, policy.warning_share));
    c.outcomes[stage.index()] = StageOutcome::Open;
    emit_stage(c, stage, SlaKind::Started, at, None, out);
}

/// Closes `stage` if it runs: `met` in time, `late` after a breach.
/// Evidence of an end in time that arrives after the breach was declared
/// corrects it: `retracted`, then `met`.
pub(super) fn end(c: &mut Complaint, stage: Stage, at: Timestamp, out: &mut Effects) {
    let Some(clock) = running(c, stage) else {
        return;
    };
    let (kind, outcome) = match (clock.breached, at <= clock.deadline) {
        (false, _) => (SlaKind::Met, StageOutcome::Met),
        (true, false) => (SlaKind::Late, StageOutcome::Late),
        (true, true) => {
            emit_stage(c, stage, SlaKind::Retracted, at, None, out);
            c.breaches = c.breaches.saturating_sub(1);
            (SlaKind::Met, StageOutcome::Met)
        }
    };
    emit_stage(c, stage, kind, at, None, out);
    c.outcomes[stage.index()] = outcome;
    *slot_mut(c, stage) = None;
}

/// Stops every running clock as `cancelled` (withdrawal, a superseded cycle).
pub(super) fn cancel_all(c: &mut Complaint, at: Timestamp, out: &mut Effects) {
    for stage in [c.respond.as_ref(), c.clock.as_ref()]
        .into_iter()
        .flatten()
        .map(|k| k.stage)
        .collect::<Vec<_>>()
    {
        cancel(c, stage, at, out);
    }
}

/// Stops `stage` as `cancelled` if it runs.
pub(super) fn cancel(c: &mut Complaint, stage: Stage, at: Timestamp, out: &mut Effects) {
    if running(c, stage).is_some() {
        emit_stage(c, stage, SlaKind::Cancelled, at, None, out);
        c.outcomes[stage.index()] = StageOutcome::Cancelled;
        *slot_mut(c, stage) = None;
    }
}

/// The next thing any clock of `c` will do on its own, with its stage.
pub(super) fn next_due(c: &Complaint) -> Option<(Due, Stage)> {
    [c.clock.as_ref(), c.respond.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|k| k.next_due().map(|d| (d, k.stage)))
        .min_by_key(|(d, stage)| (d.at(), stage.index()))
}

/// Whether `kind` is the first answer of a complaint of `priority`: a
/// response for urgent ones (a preliminary solution says even more), a
/// preliminary solution for important ones.
pub(super) fn answers(priority: Priority, kind: ProgressKind) -> bool {
    match priority {
        Priority::Urgent => matches!(
            kind,
            ProgressKind::Response | ProgressKind::PreliminarySolution
        ),
        Priority::Important => kind == ProgressKind::PreliminarySolution,
        Priority::General => false,
    }
}

/// Fires this complaint's warnings and breaches due before `until`
/// (or at it, when `inclusive`), in time order over both clocks.
pub(super) fn fire_due(c: &mut Complaint, until: Timestamp, inclusive: bool, out: &mut Effects) {
    while let Some((due, stage)) = next_due(c) {
        let t = due.at();
        if t > until || (t == until && !inclusive) {
            return;
        }
        let extensions = running(c, stage).map_or(0, |k| k.extensions);
        match due {
            Due::Warning(_) => {
                let detail = (extensions > 0).then(|| extensions.to_string());
                emit_stage(c, stage, SlaKind::Warning, t, detail.as_deref(), out);
                if let Some(k) = slot_mut(c, stage) {
                    k.warned = true;
                }
            }
            Due::Breach(_) => {
                emit_stage(c, stage, SlaKind::Breached, t, None, out);
                emit_stage(c, stage, SlaKind::Escalated, t, Some("breach"), out);
                if let Some(k) = slot_mut(c, stage) {
                    k.breached = true;
                    k.warned = true;
                }
                c.outcomes[stage.index()] = StageOutcome::Breached;
                c.breaches += 1;
            }
        }
        c.version += 1;
        c.updated_at = c.updated_at.max(t);
    }
}

/// Sends an urgent complaint to the complaint handling group, once per
/// cycle, naming the running stage (its first-answer clock when that
/// runs). Called when urgency appears (the first decision, a reopen, an
/// assignment that raises the priority while the complaint is open) and
/// when a stage starts. With no stage running it waits for the next stage
/// of the cycle: nothing is said of a stage after its end.
pub(super) fn escalate_if_urgent(c: &mut Complaint, at: Timestamp, out: &mut Effects) {
    if c.routing.priority != Priority::Urgent || c.urgent_escalated == Some(c.cycle) {
        return;
    }
    let stage = c.respond.as_ref().or(c.clock.as_ref()).map(|k| k.stage);
    if let Some(stage) = stage {
        emit_stage(c, stage, SlaKind::Escalated, at, Some("urgent"), out);
        c.urgent_escalated = Some(c.cycle);
    }
}

/// A new priority while handling: `handle` follows its target from the
/// stage's start; `respond` starts when the new priority has a first-answer
/// target and this cycle had no first answer yet (an urgent complaint's
/// hour counts from when it became urgent), moves to the new target, or is
/// cancelled when the new priority has none. Approved extensions are never
/// taken away.
pub(super) fn follow_priority(
    c: &mut Complaint,
    at: Timestamp,
    policy: &SlaPolicy,
    out: &mut Effects,
) {
    let handle = c.routing.target(policy, Stage::Handle);
    if let Some(k) = c
        .clock
        .as_mut()
        .filter(|k| k.stage == Stage::Handle && !k.breached)
    {
        let mut deadline = super::clock::saturating_after(k.started_at, handle);
        if k.extensions > 0 {
            deadline = deadline.max(k.deadline);
        }
        k.move_deadline(deadline, at, policy.warning_share, false);
    }
    let respond = c.routing.target(policy, Stage::Respond);
    match c.respond.as_mut() {
        None if respond > 0 && c.outcomes[Stage::Respond.index()] == StageOutcome::NotStarted => {
            start(c, Stage::Respond, at, policy, out);
        }
        Some(_) if respond == 0 => cancel(c, Stage::Respond, at, out),
        Some(k) if !k.breached => {
            // A shorter target counts from the raise; a longer one from the
            // stage's start.
            let from_start = super::clock::saturating_after(k.started_at, respond);
            let mut deadline = if from_start > k.deadline {
                from_start
            } else {
                k.deadline.min(super::clock::saturating_after(at, respond))
            };
            if k.extensions > 0 {
                deadline = deadline.max(k.deadline);
            }
            k.move_deadline(deadline, at, policy.warning_share, false);
        }
        _ => {}
    }
}
