//! Extensions of a running stage: asked before its deadline, decided by the
//! complaint handling group; an approved one moves the deadline.

use super::clocks;
use super::complaint::Complaint;
use super::outputs::Effects;
use super::refusal::{RejectCode, Rejection};
use super::sla::SlaPolicy;
use super::sla::StageClock;
use crate::model::event::{ExtensionDecided, ExtensionRequested};
use crate::model::{SlaKind, Stage, Timestamp};

/// Notes a request to extend the running stage until `x.until`.
pub(super) fn request(
    c: &mut Complaint,
    x: &ExtensionRequested,
    at: Timestamp,
) -> Result<(), Rejection> {
    let until = x.until.to_utc();
    // The named stage, else the running stage of the sequence (`handle`
    // while handling: the completion clock).
    let k = match x.stage {
        Some(stage) => clocks::running(c, stage).ok_or_else(|| {
            Rejection::new(
                RejectCode::InvalidExtension,
                format!("`{stage}` of complaint `{}` is not running", c.id),
            )
        })?,
        None => c.clock.as_ref().ok_or_else(|| {
            Rejection::new(
                RejectCode::InvalidExtension,
                format!("no SLA stage of complaint `{}` is running to extend", c.id),
            )
        })?,
    };
    let stage = k.stage;
    if k.breached || at > k.deadline {
        return Err(Rejection::new(
            RejectCode::InvalidExtension,
            format!(
                "extension of `{}` requested at {} after its deadline {}; it must be asked before",
                k.stage,
                at.to_rfc3339(),
                k.deadline.to_rfc3339()
            ),
        ));
    }
    if until <= k.deadline {
        return Err(Rejection::new(
            RejectCode::InvalidExtension,
            format!(
                "extension until {} does not move the deadline {}",
                until.to_rfc3339(),
                k.deadline.to_rfc3339()
            ),
        ));
    }
    clock_mut(c, stage).pending_extension = Some(until);
    Ok(())
}

fn clock_mut(c: &mut Complaint, stage: Stage) -> &mut StageClock {
    let slot = if stage == Stage::Respond {
        &mut c.respond
    } else {
        &mut c.clock
    };
    slot.as_mut().expect("the stage was found running")
}

/// Applies the group's decision on the pending request.
pub(super) fn decide(
    c: &mut Complaint,
    d: &ExtensionDecided,
    at: Timestamp,
    policy: &SlaPolicy,
    out: &mut Effects,
) -> Result<(), Rejection> {
    // The named stage, else the one whose request is pending.
    let k = match d.stage {
        Some(stage) => clocks::running(c, stage),
        None => [c.clock.as_ref(), c.respond.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| k.pending_extension.is_some())
            .or(c.clock.as_ref()),
    };
    let Some(k) = k else {
        return Err(Rejection::new(
            RejectCode::InvalidExtension,
            format!("complaint `{}` has no running stage", c.id),
        ));
    };
    let stage = k.stage;
    let Some(requested) = k.pending_extension else {
        return Err(Rejection::new(
            RejectCode::InvalidExtension,
            format!(
                "no extension request of `{}` is pending for complaint `{}`",
                k.stage, c.id
            ),
        ));
    };
    if d.approved {
        let until = d.until.map_or(requested, |u| u.to_utc());
        if k.breached {
            return Err(Rejection::new(
                RejectCode::InvalidExtension,
                format!(
                    "extension approved at {} after `{}` breached at {}",
                    at.to_rfc3339(),
                    k.stage,
                    k.deadline.to_rfc3339()
                ),
            ));
        }
        if until <= k.deadline {
            return Err(Rejection::new(
                RejectCode::InvalidExtension,
                format!(
                    "approved extension until {} does not move the deadline {}",
                    until.to_rfc3339(),
                    k.deadline.to_rfc3339()
                ),
            ));
        }
        let k = clock_mut(c, stage);
        k.move_deadline(until, at, policy.warning_share, true);
        k.extensions = k.extensions.saturating_add(1);
        k.pending_extension = None;
        let n = k.extensions.to_string();
        clocks::emit_stage(c, stage, SlaKind::Extended, at, Some(&n), out);
    } else {
        clock_mut(c, stage).pending_extension = None;
    }
    Ok(())
}
