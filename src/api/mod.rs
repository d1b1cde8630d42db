//! `complaintflow api`: where is my complaint? A read-only HTTP API over
//! the warehouse, for customer service, run with the analyst role (masked
//! views only). Bearer tokens; the description of the API at
//! `/v1/openapi.json`. The progress itself is built in `progress` (pure).

pub mod progress;

use crate::config::ClickHouseConfig;
use crate::model::{ComplaintRow, SlaEvent};
use crate::report::{CLICKHOUSE_SETTINGS, ReportError, fetch_query};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use progress::MaskedRecord;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The OpenAPI description, served as it is.
const OPENAPI: &str = include_str!("openapi.json");
/// Ids are bounded as the contract bounds them.
const MAX_ID_CHARS: usize = 256;
/// A customer's complaints listed at most.
const MAX_LIST: usize = 200;

/// What the handlers share.
pub struct Api {
    pub client: clickhouse::Client,
    pub zone: chrono_tz::Tz,
    pub departments: BTreeMap<String, String>,
    /// SHA-256 of each accepted token: the tokens themselves are not kept.
    token_hashes: Vec<[u8; 32]>,
}

impl Api {
    /// `tokens` must hold at least one non-empty token.
    pub fn new(
        cfg: &ClickHouseConfig,
        zone: chrono_tz::Tz,
        departments: BTreeMap<String, String>,
        tokens: &[String],
    ) -> Result<Api, String> {
        let token_hashes: Vec<[u8; 32]> = tokens
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .map(|t| Sha256::digest(t.as_bytes()).into())
            .collect();
        if token_hashes.is_empty() {
            return Err(
                "no API token: set COMPLAINTFLOW_API_TOKENS (comma-separated) or --tokens-file"
                    .into(),
            );
        }
        // Read as the report reads: ISO times, unquoted numbers, the rows
        // parsed into the model's own types.
        let client = CLICKHOUSE_SETTINGS.iter().fold(
            crate::sink::clickhouse::client(cfg)
                .map_err(|e| e.to_string())?
                .with_database(&cfg.database),
            |c, (k, v)| c.with_setting(*k, *v),
        );
        Ok(Api {
            client,
            zone,
            departments,
            token_hashes,
        })
    }

    fn authorised(&self, headers: &HeaderMap) -> bool {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        // Hashes compared, not tokens: the time taken says nothing of a token.
        presented.is_some_and(|t| {
            let h: [u8; 32] = Sha256::digest(t.trim().as_bytes()).into();
            self.token_hashes.contains(&h)
        })
    }
}

/// An error answer: `{"error": code, "message": ...}`.
fn error(status: StatusCode, code: &str, message: String) -> Response {
    let body = serde_json::json!({"error": code, "message": message});
    let mut r = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    r
}

/// The answer refusing a request: no known token (401), or an id that
/// cannot be one (400); `None` lets it through.
fn refusal(api: &Api, headers: &HeaderMap, what: &str, id: &str) -> Option<Response> {
    if !api.authorised(headers) {
        let message = "a valid bearer token is required".to_string();
        return Some(error(StatusCode::UNAUTHORIZED, "unauthorized", message));
    }
    let n = id.chars().count();
    if n == 0 || n > MAX_ID_CHARS || id.chars().any(char::is_control) || id.trim().is_empty() {
        let message = format!("{what} must be 1 to {MAX_ID_CHARS} printable characters");
        return Some(error(StatusCode::BAD_REQUEST, "bad_request", message));
    }
    None
}

/// The routes; the caller serves them.
pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/v1/complaints/{complaint_id}", get(complaint))
        .route("/v1/customers/{customer_id}/complaints", get(customer))
        .route(
            "/v1/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(api)
}

/// Serves on `listener` until `cancel`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: Arc<Api>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    tracing::info!(listen = %listener.local_addr()?, "serving /v1/complaints, /v1/customers, /v1/openapi.json");
    axum::serve(listener, router(api))
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
}

async fn complaint(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(refused) = refusal(&api, &headers, "complaint_id", &id) {
        return refused;
    }
    match lookup(&api, Lookup::Complaint(&id)).await {
        Ok(mut found) if !found.is_empty() => axum::Json(found.remove(0)).into_response(),
        Ok(_) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no complaint {id:?}"),
        ),
        Err(e) => unavailable(e),
    }
}

async fn customer(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(refused) = refusal(&api, &headers, "customer_id", &id) {
        return refused;
    }
    match lookup(&api, Lookup::Customer(&id)).await {
        Ok(found) if !found.is_empty() => {
            axum::Json(serde_json::json!({"customer_id": id, "complaints": found})).into_response()
        }
        Ok(_) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no complaints of customer {id:?}"),
        ),
        Err(e) => unavailable(e),
    }
}

fn unavailable(e: ReportError) -> Response {
    // The warehouse may be restarting: the caller may try again.
    tracing::warn!(error = %e, "progress lookup failed");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the warehouse did not answer; try again".into(),
    )
}

/// Which complaints a lookup is for.
enum Lookup<'a> {
    Complaint(&'a str),
    Customer(&'a str),
}

/// The complaints looked up (newest first), each with its current cycle's
/// SLA events and its masked received event. A complaint's three reads go
/// out at once; a customer's SLA and received events once its complaints
/// are known.
async fn lookup(api: &Api, what: Lookup<'_>) -> Result<Vec<progress::Progress>, ReportError> {
    let (complaints, sla, masked) = match what {
        Lookup::Complaint(id) => {
            let ids = [id];
            tokio::try_join!(
                complaint_rows(api, "complaint_id", id),
                sla_rows(api, &ids),
                masked_rows(api, &ids)
            )?
        }
        Lookup::Customer(id) => {
            let complaints = complaint_rows(api, "customer_id", id).await?;
            let ids: Vec<&str> = complaints.iter().map(|c| c.complaint_id.as_str()).collect();
            let (sla, masked) = tokio::try_join!(sla_rows(api, &ids), masked_rows(api, &ids))?;
            (complaints, sla, masked)
        }
    };
    Ok(complaints
        .iter()
        .map(|c| {
            let own: Vec<SlaEvent> = sla
                .iter()
                .filter(|s| s.complaint_id == c.complaint_id && s.cycle == c.cycle)
                .cloned()
                .collect();
            let m = masked.iter().find(|m| m.complaint_id == c.complaint_id);
            progress::progress(c, &own, m, api.zone, &api.departments)
        })
        .collect())
}

/// The complaints whose `column` is `key`. Each complaint's newest version
/// is picked by `LIMIT 1 BY` rather than `FINAL`: the same row
/// ReplacingMergeTree(version) keeps, without FINAL's cost where the id's
/// bloom filter (migration 0007) is not built yet (38 ms against 14 ms for
/// a year of 1M complaints).
async fn complaint_rows(
    api: &Api,
    column: &str,
    key: &str,
) -> Result<Vec<ComplaintRow>, ReportError> {
    let sql = format!(
        "SELECT * FROM (SELECT * FROM complaints WHERE {column} = {{key:String}} \
         ORDER BY version DESC LIMIT 1 BY complaint_id) ORDER BY received_at DESC LIMIT {MAX_LIST}"
    );
    fetch_query(api.client.query(&sql).param("key", key), &sql).await
}

/// SLA events of the complaints, every cycle. No FINAL: a copy of an SLA
/// event changes no stage's state or deadline, and without it the id's
/// bloom filter skips granules.
async fn sla_rows(api: &Api, ids: &[&str]) -> Result<Vec<SlaEvent>, ReportError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = "SELECT * FROM sla_events WHERE complaint_id IN {ids:Array(String)}";
    fetch_query(api.client.query(sql).param("ids", ids), sql).await
}

/// The received events as the analysts' masked view shows them.
async fn masked_rows(api: &Api, ids: &[&str]) -> Result<Vec<MaskedRecord>, ReportError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = "SELECT complaint_id, JSONExtractString(payload, 'customer') AS customer, \
         JSONExtractString(payload, 'description') AS description FROM events_masked \
         WHERE complaint_id IN {ids:Array(String)} AND type = 'complaint.received'";
    fetch_query(api.client.query(sql).param("ids", ids), sql).await
}
