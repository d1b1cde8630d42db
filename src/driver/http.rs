//! Operations endpoints: `/metrics` (Prometheus), `/healthz`, `/readyz`.

use super::live::Health;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio_util::sync::CancellationToken;

/// Serves on a bound listener until `cancel`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: PrometheusHandle,
    health: Arc<Health>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    tracing::info!(listen = %listener.local_addr()?, "serving /metrics /healthz /readyz");
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                crate::telemetry::collect_process();
                std::future::ready(metrics.render())
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let ready = health.ready.load(Ordering::Relaxed);
                std::future::ready(if ready {
                    (StatusCode::OK, "ready\n")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
                })
            }),
        );
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
}
