//! The `[notify]` section of the configuration: channels and routes as an
//! admin writes them, checked and turned into a [`Routing`] (secrets read
//! from the environment here, once per load or reload).

use super::routing::{Channel, ChannelKind, Route, Routing, Smtp, SmtpTls};
use crate::model::{Priority, SlaKind, Stage};
use serde::Deserialize;

/// What `complaintflow notify` reads beside `[kafka]` and `[http]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Consumer group; empty: `{kafka.group}-notify`.
    pub group: String,
    /// Messages a channel refused for good (4xx, bad configuration).
    pub dead_letter_topic: String,
    /// Zone of the deadlines in messages.
    pub timezone: String,
    /// `zh` (Chinese) or `zh+en` (Chinese, then English).
    pub language: String,
    /// How far back, in hours, decisions and received complaints are read
    /// at start for the messages' category and summary.
    pub context_hours: u32,
    /// At most this many complaints' context are kept (oldest go first).
    pub context_capacity: usize,
    /// An SLA event waits at most this long for its complaint's decision.
    pub context_wait_ms: u64,
    /// At most this many messages folded into one digest.
    pub digest_max: usize,
    pub channels: Vec<ChannelConfig>,
    pub routes: Vec<RouteConfig>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            group: String::new(),
            dead_letter_topic: "complaints.notify.dlq".into(),
            timezone: crate::config::DEFAULT_TIMEZONE.into(),
            language: "zh".into(),
            context_hours: 72,
            context_capacity: 500_000,
            context_wait_ms: 2_000,
            digest_max: 200,
            channels: Vec::new(),
            routes: Vec::new(),
        }
    }
}

/// One channel as written: secrets only by the name of their variable.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelConfig {
    pub name: String,
    /// `webhook`, `wecom`, `dingtalk`, `feishu` or `smtp`.
    pub kind: String,
    /// The URL, or the variable holding it (a robot's URL carries its key).
    pub url: String,
    pub url_env: String,
    /// Variable holding the signing secret (webhook, DingTalk, Feishu).
    pub secret_env: String,
    /// Requests a minute the channel allows; 0: no limit.
    pub per_minute: u32,
    /// Seconds one request may take.
    pub timeout_s: u64,
    pub smtp: Option<SmtpConfig>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// `starttls` (default), `tls` (implicit, port 465) or `none` (a relay
    /// on the same host only).
    pub tls: String,
    pub from: String,
    pub to: Vec<String>,
    pub username_env: String,
    pub password_env: String,
}

/// Which events go where: every list empty matches all.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteConfig {
    pub kinds: Vec<String>,
    pub stages: Vec<String>,
    pub priorities: Vec<String>,
    pub departments: Vec<String>,
    /// Only urgent escalations (the emergency mechanism), not breach ones.
    pub urgent_escalations_only: bool,
    pub channels: Vec<String>,
}

/// A `[notify]` section that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("[notify] {0}")]
pub struct SettingsError(pub String);

impl NotifyConfig {
    /// Checks everything and reads the secrets from `env`.
    pub fn routing(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Routing, SettingsError> {
        let bad = |m: String| Err(SettingsError(m));
        if !matches!(self.language.as_str(), "zh" | "zh+en") {
            return bad(format!("language {:?}: zh or zh+en", self.language));
        }
        let zone: chrono_tz::Tz = match self.timezone.parse() {
            Ok(z) => z,
            Err(_) => return bad(format!("timezone {:?} is not an IANA zone", self.timezone)),
        };
        if self.digest_max < 2 || self.digest_max > 10_000 {
            return bad("digest_max must be 2..=10000".into());
        }
        let mut channels = Vec::new();
        for c in &self.channels {
            if c.name.is_empty() || channels.iter().any(|x: &Channel| x.name == c.name) {
                return bad(format!("channel name {:?} is empty or repeated", c.name));
            }
            channels.push(channel(c, env)?);
        }
        let mut routes = Vec::new();
        for (i, r) in self.routes.iter().enumerate() {
            routes.push(route(i, r, &channels)?);
        }
        Ok(Routing {
            channels,
            routes,
            zone,
            english: self.language == "zh+en",
            digest_max: self.digest_max,
        })
    }
}

fn channel(
    c: &ChannelConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Channel, SettingsError> {
    let named = |what: &str| format!("channel {:?}: {what}", c.name);
    let from_env = |var: &str| -> Result<String, SettingsError> {
        match env(var) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(SettingsError(named(&format!("variable {var} is not set")))),
        }
    };
    let kind = match c.kind.as_str() {
        "webhook" => ChannelKind::Webhook,
        "wecom" => ChannelKind::WeCom,
        "dingtalk" => ChannelKind::DingTalk,
        "feishu" => ChannelKind::Feishu,
        "smtp" => ChannelKind::Smtp(smtp(c, env)?),
        other => {
            return Err(SettingsError(named(&format!(
                "kind {other:?}: webhook, wecom, dingtalk, feishu or smtp"
            ))));
        }
    };
    let url = match (&kind, c.url.as_str(), c.url_env.as_str()) {
        (ChannelKind::Smtp(_), "", "") => String::new(),
        (ChannelKind::Smtp(_), _, _) => return Err(SettingsError(named("smtp takes no url"))),
        (_, url, "") if !url.is_empty() => url.to_string(),
        (_, "", var) if !var.is_empty() => from_env(var)?,
        _ => return Err(SettingsError(named("set exactly one of url and url_env"))),
    };
    let secret = match c.secret_env.as_str() {
        "" => None,
        var => Some(from_env(var)?),
    };
    if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
        return Err(SettingsError(named("the url is not http(s)")));
    }
    if secret.is_none() && kind == ChannelKind::Webhook {
        return Err(SettingsError(named("a webhook is signed: set secret_env")));
    }
    let timeout_s = if c.timeout_s == 0 {
        10
    } else {
        c.timeout_s.min(120)
    };
    Ok(Channel {
        name: c.name.clone(),
        kind,
        url,
        secret,
        per_minute: c.per_minute,
        timeout: std::time::Duration::from_secs(timeout_s),
    })
}

fn smtp(c: &ChannelConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<Smtp, SettingsError> {
    let named = |what: &str| SettingsError(format!("channel {:?}: {what}", c.name));
    let s = c
        .smtp
        .as_ref()
        .ok_or_else(|| named("kind smtp needs [notify.channels.smtp]"))?;
    let tls = match s.tls.as_str() {
        "" | "starttls" => SmtpTls::StartTls,
        "tls" => SmtpTls::Implicit,
        "none" => SmtpTls::None,
        other => return Err(named(&format!("smtp.tls {other:?}: starttls, tls or none"))),
    };
    if s.host.is_empty() || s.from.is_empty() || s.to.is_empty() {
        return Err(named("smtp needs host, from and to"));
    }
    let login = match (s.username_env.as_str(), s.password_env.as_str()) {
        ("", "") => None,
        (u, p) if !u.is_empty() && !p.is_empty() => match (env(u), env(p)) {
            (Some(u), Some(p)) => Some((u, p)),
            _ => return Err(named("smtp username_env or password_env is not set")),
        },
        _ => return Err(named("set both smtp.username_env and smtp.password_env")),
    };
    let port = match (s.port, tls) {
        (0, SmtpTls::Implicit) => 465,
        (0, _) => 587,
        (p, _) => p,
    };
    Ok(Smtp {
        host: s.host.clone(),
        port,
        tls,
        from: s.from.clone(),
        to: s.to.clone(),
        login,
    })
}

fn route(i: usize, r: &RouteConfig, channels: &[Channel]) -> Result<Route, SettingsError> {
    let bad = |what: String| SettingsError(format!("routes[{i}]: {what}"));
    fn parse_all<T>(
        names: &[String],
        parse: fn(&str) -> Option<T>,
        what: &str,
    ) -> Result<Vec<T>, String> {
        names
            .iter()
            .map(|n| parse(n).ok_or_else(|| format!("unknown {what} {n:?}")))
            .collect()
    }
    let mut targets = Vec::new();
    for name in &r.channels {
        match channels.iter().position(|c| &c.name == name) {
            Some(at) => targets.push(at),
            None => return Err(bad(format!("no channel named {name:?}"))),
        }
    }
    if targets.is_empty() {
        return Err(bad("names no channel".into()));
    }
    Ok(Route {
        kinds: parse_all(&r.kinds, SlaKind::parse, "kind").map_err(bad)?,
        stages: parse_all(&r.stages, Stage::parse, "stage").map_err(bad)?,
        priorities: parse_all(&r.priorities, Priority::parse, "priority").map_err(bad)?,
        departments: r.departments.clone(),
        urgent_escalations_only: r.urgent_escalations_only,
        channels: targets,
    })
}
