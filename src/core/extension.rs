//! Extensions of a running stage: asked before its deadline, decided by the
//! complaint handling group; an approved one moves the deadline.

use super::complaint::Complaint;
use super::outputs::{Outputs, emit};
use super::refusal::{RejectCode, Rejection};
use super::sla::SlaPolicy;
use crate::model::event::{ExtensionDecided, ExtensionRequested};
use crate::model::{SlaKind, Timestamp};

/// Notes a request to extend the running stage until `x.until`.
pub(super) fn request(
    c: &mut Complaint,
    x: &ExtensionRequested,
    at: Timestamp,
) -> Result<(), Rejection> {
    let until = x.until.to_utc();
    let Some(k) = c.clock.as_ref() else {
        return Err(Rejection::new(
            RejectCode::InvalidExtension,
            format!("no SLA stage of complaint `{}` is running to extend", c.id),
        ));
    };
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
    c.clock.as_mut().expect("checked").pending_extension = Some(until);
    Ok(())
}

/// Applies the group's decision on the pending request.
pub(super) fn decide(
    c: &mut Complaint,
    d: &ExtensionDecided,
    at: Timestamp,
    policy: &SlaPolicy,
    out: &mut Outputs,
) -> Result<(), Rejection> {
    let Some(k) = c.clock.as_ref() else {
        return Err(Rejection::new(
            RejectCode::InvalidExtension,
            format!("complaint `{}` has no running stage", c.id),
        ));
    };
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
        let k = c.clock.as_mut().expect("checked");
        k.move_deadline(until, at, policy.warning_share, true);
        k.extensions = k.extensions.saturating_add(1);
        k.pending_extension = None;
        let n = k.extensions.to_string();
        emit(c, SlaKind::Extended, at, Some(&n), out);
    } else {
        c.clock.as_mut().expect("checked").pending_extension = None;
    }
    Ok(())
}
