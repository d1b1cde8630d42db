//! Each HTTP channel's request (documented body, signature) and what its
//! answer means. Pure: the time of signing is passed in.
//!
//! - generic webhook: JSON with every notice; `Idempotency-Key`,
//!   `X-Complaintflow-Timestamp` (Unix seconds) and
//!   `X-Complaintflow-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`;
//! - WeCom robot: `{"msgtype":"markdown","markdown":{"content":…}}`;
//! - DingTalk robot: markdown; with a secret, `timestamp` (ms) and `sign` =
//!   Base64(HMAC-SHA256(secret, "{timestamp}\n{secret}")) in the query;
//! - Feishu robot: text; with a secret, `timestamp` (s) and `sign` =
//!   Base64(HMAC-SHA256(key "{timestamp}\n{secret}", empty message)).

use super::message::Notice;
use super::routing::{Channel, ChannelKind};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

/// One batch for one channel: a single notice or a digest.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The SLA event id of a single notice; `digest-<hash of the ids>` for
    /// a digest, so a retried request keeps its key.
    pub idempotency_key: String,
    pub title: String,
    pub text: String,
    pub notices: Vec<Notice>,
}

/// An HTTP request ready to send.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// What a channel's answer means for the batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Delivered,
    /// Try again later (5xx, 429, a robot's rate-limit code).
    Retry(String),
    /// Never going to work (4xx, bad key): dead-lettered.
    Refused(String),
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The generic webhook's signature header value.
pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!("sha256={}", hex(&hmac(secret.as_bytes(), &signed)))
}

/// DingTalk's `sign` (Base64, before URL encoding).
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    let signed = format!("{timestamp_ms}\n{secret}");
    base64::engine::general_purpose::STANDARD.encode(hmac(secret.as_bytes(), signed.as_bytes()))
}

/// Feishu's `sign`: the string is the key, the message empty.
pub fn feishu_sign(secret: &str, timestamp_s: i64) -> String {
    let key = format!("{timestamp_s}\n{secret}");
    base64::engine::general_purpose::STANDARD.encode(hmac(key.as_bytes(), b""))
}

/// The request for `out` on an HTTP channel; `now_ms` is the signing time.
pub fn request(channel: &Channel, out: &Outgoing, now_ms: i64) -> HttpRequest {
    let markdown = format!("**{}**\n\n{}", out.title, out.text);
    let mut headers = vec![
        ("content-type", "application/json".to_string()),
        ("idempotency-key", out.idempotency_key.clone()),
    ];
    let mut url = channel.url.clone();
    let secret = channel.secret.as_deref();
    let body = match &channel.kind {
        ChannelKind::Webhook => {
            let body = json!({
                "idempotency_key": out.idempotency_key,
                "kind": if out.notices.len() == 1 { "notice" } else { "digest" },
                "title": out.title,
                "text": out.text,
                "notices": out.notices,
            });
            let bytes = body.to_string().into_bytes();
            let ts = now_ms.div_euclid(1000);
            headers.push(("x-complaintflow-timestamp", ts.to_string()));
            if let Some(s) = secret {
                headers.push((
                    "x-complaintflow-signature",
                    webhook_signature(s, ts, &bytes),
                ));
            }
            return HttpRequest {
                url,
                headers,
                body: bytes,
            };
        }
        ChannelKind::WeCom => json!({"msgtype": "markdown", "markdown": {"content": markdown}}),
        ChannelKind::DingTalk => {
            if let Some(s) = secret {
                let sign = dingtalk_sign(s, now_ms);
                let sep = if url.contains('?') { '&' } else { '?' };
                let encoded: String = percent_encoding::utf8_percent_encode(
                    &sign,
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .collect();
                url = format!("{url}{sep}timestamp={now_ms}&sign={encoded}");
            }
            json!({"msgtype": "markdown", "markdown": {"title": out.title, "text": markdown}})
        }
        ChannelKind::Feishu => {
            let text = format!("{}\n{}", out.title, out.text);
            let mut body = json!({"msg_type": "text", "content": {"text": text}});
            if let Some(s) = secret {
                let ts = now_ms.div_euclid(1000);
                body["timestamp"] = json!(ts.to_string());
                body["sign"] = json!(feishu_sign(s, ts));
            }
            body
        }
        // SMTP has no HTTP request; the sender never asks for one.
        ChannelKind::Smtp(_) => json!({}),
    };
    HttpRequest {
        url,
        headers,
        body: body.to_string().into_bytes(),
    }
}

/// Robot codes that mean "too many messages": try again later.
const ROBOT_RATE_LIMITED: [i64; 3] = [45009, 130101, 9499];

/// Reads a channel's answer. Robots answer 200 with a code in the body.
pub fn answer(kind: &ChannelKind, status: u16, body: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    match status {
        200..=299 => {}
        408 | 425 | 429 | 500..=599 => return Answer::Retry(format!("HTTP {status}: {text}")),
        _ => return Answer::Refused(format!("HTTP {status}: {text}")),
    }
    let code_field = match kind {
        ChannelKind::WeCom | ChannelKind::DingTalk => "errcode",
        ChannelKind::Feishu => "code",
        ChannelKind::Webhook | ChannelKind::Smtp(_) => return Answer::Delivered,
    };
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get(code_field).and_then(|c| c.as_i64()));
    match code {
        Some(0) => Answer::Delivered,
        Some(c) if ROBOT_RATE_LIMITED.contains(&c) => {
            Answer::Retry(format!("rate limited ({code_field} {c})"))
        }
        Some(c) => Answer::Refused(format!("{code_field} {c}: {text}")),
        None => Answer::Retry(format!("unreadable answer: {text}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_platforms_examples() {
        // HMAC-SHA256 test vector 2 of RFC 4231 (key "Jefe").
        let mac = hmac(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            webhook_signature("Jefe", 1, b"x"),
            format!("sha256={}", hex(&hmac(b"Jefe", b"1.x")))
        );
        assert_ne!(dingtalk_sign("s", 1), dingtalk_sign("s", 2));
        assert_eq!(feishu_sign("s", 5).len(), 44, "Base64 of 32 bytes");
    }

    #[test]
    fn answers_are_read_per_platform() {
        assert_eq!(answer(&ChannelKind::Webhook, 204, b""), Answer::Delivered);
        assert!(matches!(
            answer(&ChannelKind::Webhook, 503, b""),
            Answer::Retry(_)
        ));
        assert!(matches!(
            answer(&ChannelKind::Webhook, 400, b"bad"),
            Answer::Refused(_)
        ));
        let wecom = ChannelKind::WeCom;
        assert_eq!(
            answer(&wecom, 200, br#"{"errcode":0,"errmsg":"ok"}"#),
            Answer::Delivered
        );
        assert!(matches!(
            answer(&wecom, 200, br#"{"errcode":45009}"#),
            Answer::Retry(_)
        ));
        assert!(matches!(
            answer(&wecom, 200, br#"{"errcode":93000}"#),
            Answer::Refused(_)
        ));
        assert_eq!(
            answer(&ChannelKind::Feishu, 200, br#"{"code":0}"#),
            Answer::Delivered
        );
    }
}
