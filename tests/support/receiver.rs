//! A local HTTP receiver standing in for webhooks and robots: it records
//! every request, answers as told per path, and can be taken down and
//! brought back on the same port.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct Received {
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
    /// The bytes as sent (what a signature covers).
    pub raw: Vec<u8>,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Seen {
    requests: Vec<Received>,
}

pub struct Receiver {
    pub port: u16,
    seen: Arc<Mutex<Seen>>,
    stop: CancellationToken,
}

async fn record(
    State(seen): State<Arc<Mutex<Seen>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let path = uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let received = Received {
        path_and_query: path.clone(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        raw: body.to_vec(),
        at: chrono::Utc::now(),
    };
    // `/refuse` stands for a channel with a revoked key: a 4xx for good.
    if path.starts_with("/refuse") {
        return (StatusCode::FORBIDDEN, "key revoked".into());
    }
    seen.lock().unwrap().requests.push(received);
    let ok = if path.starts_with("/feishu") {
        r#"{"code":0}"#
    } else {
        r#"{"errcode":0}"#
    };
    (StatusCode::OK, ok.into())
}

impl Receiver {
    pub async fn start() -> Receiver {
        let port = super::free_port();
        let r = Receiver {
            port,
            seen: Arc::default(),
            stop: CancellationToken::new(),
        };
        r.serve().await
    }

    async fn serve(self) -> Receiver {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        let app = Router::new().fallback(record).with_state(self.seen.clone());
        let stop = self.stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
                .unwrap();
        });
        self
    }

    /// Stops answering: connections are refused until `up`.
    pub fn down(&mut self) {
        self.stop.cancel();
    }

    pub async fn up(mut self) -> Receiver {
        self.stop = CancellationToken::new();
        // The port was ours a moment ago; binding again may need a retry.
        for _ in 0..50 {
            if std::net::TcpListener::bind(("127.0.0.1", self.port)).is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.serve().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.seen.lock().unwrap().requests.clone()
    }

    /// Requests to paths starting with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.path_and_query.starts_with(prefix))
            .collect()
    }
}
