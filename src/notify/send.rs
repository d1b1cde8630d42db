//! The wire: one request to a channel (HTTP through the HTTPS client the
//! ClickHouse sink uses, or SMTP through lettre), and the notifications
//! dead-letter topic for what a channel refuses for good.

use super::channel::{self, Answer, Outgoing};
use super::routing::{Channel, ChannelKind, Smtp, SmtpTls};
use crate::sink::kafka::{OutRecord, send_all};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use rdkafka::producer::FutureProducer;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A channel's answer is read up to this many bytes.
const MAX_ANSWER_BYTES: usize = 64 << 10;

/// What the channel workers send through.
pub struct Senders {
    pub http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    pub producer: FutureProducer,
    pub dead_letter_topic: String,
}

impl Senders {
    /// One attempt.
    pub async fn send(&self, channel: &Channel, out: &Outgoing) -> Answer {
        match &channel.kind {
            ChannelKind::Smtp(smtp) => send_mail(smtp, channel.timeout, out).await,
            kind => {
                let now_ms = chrono::Utc::now().timestamp_millis();
                let req = channel::request(channel, out, now_ms);
                match tokio::time::timeout(channel.timeout, self.post(req)).await {
                    Ok(Ok((status, body))) => channel::answer(kind, status, &body),
                    Ok(Err(e)) => Answer::Retry(e),
                    Err(_) => Answer::Retry(format!("no answer within {:?}", channel.timeout)),
                }
            }
        }
    }

    async fn post(&self, req: channel::HttpRequest) -> Result<(u16, Bytes), String> {
        let mut builder = axum::http::Request::post(&req.url);
        for (name, value) in &req.headers {
            builder = builder.header(*name, value);
        }
        // The URL may carry a robot key: errors name the request, not it.
        let request = builder
            .body(Full::new(Bytes::from(req.body)))
            .map_err(|e| format!("building the request: {e}"))?;
        let response = self.http.request(request).await.map_err(|e| {
            let source = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_default();
            format!("request failed: {e} {source}")
        })?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// Puts a refused batch on the dead-letter topic (retrying until the
    /// broker takes it); `false` when cancelled first.
    pub async fn dead_letter(
        &self,
        channel: &Channel,
        out: &Outgoing,
        reason: &str,
        cancel: &CancellationToken,
    ) -> bool {
        tracing::warn!(channel = %channel.name, key = %out.idempotency_key, reason, "refused by the channel; dead-lettered");
        let payload = serde_json::json!({
            "idempotency_key": out.idempotency_key,
            "channel": channel.name,
            "channel_kind": channel.kind.name(),
            "reason": reason,
            "at": chrono::Utc::now().to_rfc3339(),
            "title": out.title,
            "text": out.text,
            "event_ids": out.notices.iter().map(|n| n.event.event_id.as_str()).collect::<Vec<_>>(),
        });
        let record = OutRecord {
            topic: self.dead_letter_topic.clone(),
            key: out.idempotency_key.clone(),
            payload: Some(payload.to_string().into_bytes()),
            partition: None,
        };
        let mut backoff = Duration::from_millis(500);
        loop {
            match send_all(&self.producer, std::slice::from_ref(&record)).await {
                Ok(()) => return true,
                Err(e) => {
                    tracing::error!(error = %e, key = %out.idempotency_key, "notification dead letter not stored; retrying");
                    if !super::deliver::sleep_or_cancel(backoff, cancel).await {
                        return false;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
}

/// One e-mail; the idempotency key is its Message-ID.
async fn send_mail(smtp: &Smtp, timeout: Duration, out: &Outgoing) -> Answer {
    let email = match mail(smtp, out) {
        Ok(m) => m,
        Err(e) => return Answer::Refused(e),
    };
    let builder = match smtp.tls {
        SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host),
        SmtpTls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host),
        SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &smtp.host,
        )),
    };
    let mut builder = match builder {
        Ok(b) => b.port(smtp.port).timeout(Some(timeout)),
        Err(e) => return Answer::Refused(format!("smtp settings: {e}")),
    };
    if let Some((user, password)) = &smtp.login {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    match builder.build().send(email).await {
        Ok(_) => Answer::Delivered,
        Err(e) if e.is_permanent() => Answer::Refused(format!("smtp: {e}")),
        Err(e) => Answer::Retry(format!("smtp: {e}")),
    }
}

fn mail(smtp: &Smtp, out: &Outgoing) -> Result<lettre::Message, String> {
    let address = |a: &str| a.parse().map_err(|e| format!("smtp address {a:?}: {e}"));
    let mut builder = lettre::Message::builder()
        .from(address(&smtp.from)?)
        .subject(out.title.clone())
        .message_id(Some(format!(
            "<{}@complaintflow>",
            out.idempotency_key.replace(['<', '>', ' '], "_")
        )))
        .header(lettre::message::header::ContentType::TEXT_PLAIN);
    for to in &smtp.to {
        builder = builder.to(address(to)?);
    }
    builder
        .body(out.text.clone())
        .map_err(|e| format!("building the e-mail: {e}"))
}
