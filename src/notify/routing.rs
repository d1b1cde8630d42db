//! Which channels an SLA event goes to: pure, from a checked [`Routing`].
//! A `retracted` breach goes wherever its `breached` went, so whoever got
//! the breach gets its correction.

use crate::model::{Priority, SlaEvent, SlaKind, Stage};
use std::time::Duration;

/// Channels and routes, checked; swapped whole on a reload.
#[derive(Debug, Clone)]
pub struct Routing {
    pub channels: Vec<Channel>,
    pub routes: Vec<Route>,
    pub zone: chrono_tz::Tz,
    /// Messages in Chinese, then English.
    pub english: bool,
    pub digest_max: usize,
}

/// One place messages go, its secrets read.
#[derive(Clone, PartialEq)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
    /// Empty for SMTP.
    pub url: String,
    pub secret: Option<String>,
    /// Requests in any 60 s; 0: no limit.
    pub per_minute: u32,
    pub timeout: Duration,
}

// By hand: a channel's URL (a robot key) and secret never reach a log.
impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.name)
            .field("kind", &self.kind.name())
            .field("per_minute", &self.per_minute)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChannelKind {
    /// Generic JSON, signed with HMAC-SHA256.
    Webhook,
    /// 企业微信 group robot.
    WeCom,
    /// 钉钉 group robot (signed when it has a secret).
    DingTalk,
    /// 飞书 group robot (signed when it has a secret).
    Feishu,
    Smtp(Smtp),
}

impl ChannelKind {
    pub fn name(&self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::WeCom => "wecom",
            ChannelKind::DingTalk => "dingtalk",
            ChannelKind::Feishu => "feishu",
            ChannelKind::Smtp(_) => "smtp",
        }
    }
}

#[derive(Clone, PartialEq)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub from: String,
    pub to: Vec<String>,
    /// User and password; never logged.
    pub login: Option<(String, String)>,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SmtpTls {
    StartTls,
    Implicit,
    None,
}

/// One route: an event matches when every non-empty list holds its value.
#[derive(Debug, Clone)]
pub struct Route {
    pub kinds: Vec<SlaKind>,
    pub stages: Vec<Stage>,
    pub priorities: Vec<Priority>,
    pub departments: Vec<String>,
    pub urgent_escalations_only: bool,
    /// Indexes into [`Routing::channels`].
    pub channels: Vec<usize>,
}

impl Route {
    fn matches(&self, e: &SlaEvent, kind: SlaKind) -> bool {
        let any = |list_empty: bool, has: bool| list_empty || has;
        any(self.kinds.is_empty(), self.kinds.contains(&kind))
            && any(self.stages.is_empty(), self.stages.contains(&e.stage))
            && any(
                self.priorities.is_empty(),
                self.priorities.contains(&e.priority),
            )
            && any(
                self.departments.is_empty(),
                self.departments.contains(&e.lead_department),
            )
            && (!self.urgent_escalations_only || e.is_urgent_escalation())
    }
}

impl Routing {
    /// The channels `e` goes to, each once, in the order of the file.
    pub fn channels_for(&self, e: &SlaEvent) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for r in &self.routes {
            let hit = r.matches(e, e.kind)
                || (e.kind == SlaKind::Retracted && r.matches(e, SlaKind::Breached));
            if hit {
                for &c in &r.channels {
                    if !out.contains(&c) {
                        out.push(c);
                    }
                }
            }
        }
        out
    }

    /// Index of the channel named `name`.
    pub fn channel(&self, name: &str) -> Option<usize> {
        self.channels.iter().position(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::settings::{ChannelConfig, NotifyConfig, RouteConfig};

    fn event(kind: SlaKind, id_detail: &str, priority: Priority) -> SlaEvent {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        SlaEvent {
            event_id: format!("C-1:1:handle:{}{id_detail}", kind.as_str()),
            complaint_id: "C-1".into(),
            stage: Stage::Handle,
            cycle: 1,
            kind,
            deadline: at,
            at,
            priority,
            lead_department: "technical".into(),
        }
    }

    fn routing(routes: Vec<RouteConfig>) -> Routing {
        let channel = |name: &str| ChannelConfig {
            name: name.into(),
            kind: "wecom".into(),
            url: "http://127.0.0.1:1/robot".into(),
            ..Default::default()
        };
        let cfg = NotifyConfig {
            channels: vec![channel("group"), channel("tech")],
            routes,
            ..Default::default()
        };
        cfg.routing(&|_| None).expect("valid")
    }

    fn route(kinds: &[&str], channels: &[&str]) -> RouteConfig {
        RouteConfig {
            kinds: kinds.iter().map(|s| s.to_string()).collect(),
            channels: channels.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_retraction_follows_its_breach() {
        let r = routing(vec![
            route(&["breached"], &["tech"]),
            route(&["escalated"], &["group"]),
        ]);
        let retracted = event(SlaKind::Retracted, "", Priority::General);
        assert_eq!(r.channels_for(&retracted), vec![1]);
        assert!(
            r.channels_for(&event(SlaKind::Met, "", Priority::General))
                .is_empty()
        );
    }

    #[test]
    fn urgent_only_routes_skip_breach_escalations() {
        let mut urgent = route(&["escalated"], &["group"]);
        urgent.urgent_escalations_only = true;
        let r = routing(vec![urgent, route(&[], &["group", "tech"])]);
        let breach = event(SlaKind::Escalated, ":breach", Priority::Important);
        assert_eq!(r.channels_for(&breach), vec![0, 1], "the catch-all route");
        let r = routing(vec![{
            let mut u = route(&["escalated"], &["group"]);
            u.urgent_escalations_only = true;
            u
        }]);
        assert!(r.channels_for(&breach).is_empty());
        assert_eq!(
            r.channels_for(&event(SlaKind::Escalated, ":urgent", Priority::Urgent)),
            vec![0]
        );
    }

    #[test]
    fn a_bad_file_names_its_mistake() {
        let cfg = NotifyConfig {
            routes: vec![route(&["breachd"], &["nowhere"])],
            ..Default::default()
        };
        let e = cfg.routing(&|_| None).unwrap_err().to_string();
        assert!(e.contains("no channel named \"nowhere\""), "{e}");
        let cfg = NotifyConfig {
            channels: vec![ChannelConfig {
                name: "hook".into(),
                kind: "webhook".into(),
                url_env: "HOOK_URL".into(),
                secret_env: "HOOK_SECRET".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let e = cfg.routing(&|_| None).unwrap_err().to_string();
        assert!(e.contains("variable HOOK_URL is not set"), "{e}");
    }
}
