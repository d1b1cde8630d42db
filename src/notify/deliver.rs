//! One task per channel: takes queued notices, keeps the channel's rate
//! limit (a burst becomes a digest), sends with retries and back-off, and
//! dead-letters what the channel refuses for good. A notice is finished —
//! its offset free to commit — only once delivered or dead-lettered.

use super::channel::{Answer, Outgoing};
use super::message::{self, Departments, Notice};
use super::progress::Ticket;
use super::routing::{Channel, ChannelKind, Routing};
use super::send::Senders;
use super::window::{Plan, Window};
use arc_swap::ArcSwap;
use sha2::Digest as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A notice for one channel, with the ticket of the event it tells.
pub struct Job {
    pub notice: Notice,
    pub ticket: Arc<Ticket>,
}

/// Lines a robot's digest lists (their messages are capped at a few KB).
const ROBOT_DIGEST_LINES: usize = 20;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What a channel worker shares with the service.
pub struct Shared {
    pub routing: Arc<ArcSwap<Routing>>,
    pub departments: Departments,
    pub senders: Senders,
}

/// Runs one channel until `cancel`; what is queued or in flight then stays
/// unfinished (its offsets uncommitted) and is sent again after a restart.
pub async fn channel_worker(
    mut channel: Channel,
    mut queue: mpsc::Receiver<Job>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
) {
    let mut window = Window::new(channel.per_minute);
    loop {
        let first = tokio::select! {
            _ = cancel.cancelled() => return,
            job = queue.recv() => match job { Some(j) => j, None => return },
        };
        let routing = shared.routing.load_full();
        // A reload may have changed the channel; a removed one keeps its
        // last settings for what is already queued.
        if let Some(now) = routing.channels.iter().find(|c| c.name == channel.name) {
            channel = now.clone();
            window.set_limit(channel.per_minute);
        }
        // A slot first, then (within the digests' reserve) a short
        // gathering, so the next request carries whatever came meanwhile.
        let wait = window.wait(Instant::now());
        if !wait.is_zero() && !sleep_or_cancel(wait, &cancel).await {
            return;
        }
        let pace = window.pace(Instant::now());
        if !pace.is_zero() && !sleep_or_cancel(pace, &cancel).await {
            return;
        }
        let mut batch = vec![first];
        while batch.len() < routing.digest_max {
            match queue.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let groups: Vec<Vec<Job>> = match window.plan(batch.len(), Instant::now()) {
            Plan::Singles => batch.into_iter().map(|j| vec![j]).collect(),
            Plan::Digest => vec![batch],
        };
        for group in groups {
            window.take(Instant::now());
            let out = outgoing(&group, &channel, &routing, &shared.departments);
            if !deliver(&channel, &out, &shared, &cancel).await {
                return;
            }
            for job in &group {
                job.ticket.finish();
            }
        }
    }
}

/// A single notice, or a digest of several.
fn outgoing(group: &[Job], channel: &Channel, routing: &Routing, names: &Departments) -> Outgoing {
    let notices: Vec<Notice> = group.iter().map(|j| j.notice.clone()).collect();
    if let [only] = notices.as_slice() {
        let (title, text) = message::text(only, routing.zone, routing.english, names);
        return Outgoing {
            idempotency_key: only.event.event_id.clone(),
            title,
            text,
            notices,
        };
    }
    let lines = match channel.kind {
        ChannelKind::Webhook | ChannelKind::Smtp(_) => notices.len(),
        _ => ROBOT_DIGEST_LINES,
    };
    let (title, text) = message::digest_text(&notices, routing.zone, routing.english, lines);
    let mut ids = sha2::Sha256::new();
    for n in &notices {
        ids.update(n.event.event_id.as_bytes());
        ids.update(b"\n");
    }
    let hash: String = ids.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Outgoing {
        idempotency_key: format!("digest-{hash}"),
        title,
        text,
        notices,
    }
}

/// Sends until delivered or refused (then dead-lettered); `false` when
/// cancelled first.
async fn deliver(
    channel: &Channel,
    out: &Outgoing,
    shared: &Shared,
    cancel: &CancellationToken,
) -> bool {
    let mut backoff = FIRST_BACKOFF;
    let labels = [("channel", channel.name.clone())];
    loop {
        let answer = tokio::select! {
            _ = cancel.cancelled() => return false,
            a = shared.senders.send(channel, out) => a,
        };
        match answer {
            Answer::Delivered => {
                metrics::counter!("complaintflow_notify_sent_total", &labels).increment(1);
                metrics::counter!("complaintflow_notify_notices_total", &labels)
                    .increment(out.notices.len() as u64);
                tracing::info!(channel = %channel.name, key = %out.idempotency_key, notices = out.notices.len(), "delivered");
                return true;
            }
            Answer::Retry(reason) => {
                metrics::counter!("complaintflow_notify_retries_total", &labels).increment(1);
                tracing::warn!(channel = %channel.name, key = %out.idempotency_key, %reason, retry_in = ?backoff, "not delivered; retrying");
                if !sleep_or_cancel(backoff, cancel).await {
                    return false;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Answer::Refused(reason) => {
                metrics::counter!("complaintflow_notify_refused_total", &labels).increment(1);
                return shared
                    .senders
                    .dead_letter(channel, out, &reason, cancel)
                    .await;
            }
        }
    }
}

/// Sleeps `d`; `false` when cancelled first.
pub async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

// The request building is pure and tested in `channel`; here only the
// choice of single or digest, which needs no server.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_key_is_the_same_for_the_same_notices() {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let progress = Arc::new(super::super::progress::Progress::default());
        let job = |i: u32| Job {
            notice: Notice {
                event: crate::model::SlaEvent {
                    event_id: format!("C-{i}:1:acknowledge:breached"),
                    complaint_id: format!("C-{i}"),
                    stage: crate::model::Stage::Acknowledge,
                    cycle: 1,
                    kind: crate::model::SlaKind::Breached,
                    deadline: at,
                    at,
                    priority: crate::model::Priority::General,
                    lead_department: "business".into(),
                },
                category: None,
                summary: None,
            },
            ticket: progress.begin(0, i64::from(i), 1),
        };
        let routing = crate::notify::settings::NotifyConfig::default()
            .routing(&|_| None)
            .unwrap();
        let hook = Channel {
            name: "h".into(),
            kind: ChannelKind::Webhook,
            url: "http://127.0.0.1:1".into(),
            secret: Some("s".into()),
            per_minute: 0,
            timeout: Duration::from_secs(1),
        };
        let names = Departments::new();
        let one = outgoing(&[job(1)], &hook, &routing, &names);
        assert_eq!(one.idempotency_key, "C-1:1:acknowledge:breached");
        let a = outgoing(&[job(1), job(2)], &hook, &routing, &names);
        let b = outgoing(&[job(1), job(2)], &hook, &routing, &names);
        assert!(a.idempotency_key.starts_with("digest-"));
        assert_eq!(a.idempotency_key, b.idempotency_key);
        assert_ne!(
            a.idempotency_key,
            outgoing(&[job(2), job(3)], &hook, &routing, &names).idempotency_key
        );
    }
}
