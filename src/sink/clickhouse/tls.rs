//! The HTTP(S) client under the `clickhouse` crate. Built here rather than
//! by the crate's TLS features so that a private CA (`clickhouse.ca_file`)
//! can be trusted beside the system's roots.

use super::ClickHouseError;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::time::Duration;

/// The `clickhouse` crate's own default: keep-alive probes on idle sockets.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// Certificates in one PEM file are at most this many bytes; a larger file
/// is a mistake (a key store, a log) rather than a CA bundle.
const MAX_CA_FILE_BYTES: u64 = 4 << 20;

/// The connector for `https://` (and plain `http://`) ClickHouse URLs;
/// the notifier's webhooks use it too.
pub(crate) fn connector(ca_file: &str) -> Result<HttpsConnector<HttpConnector>, ClickHouseError> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped: the CA file, or plain
    // HTTP, may be all this deployment needs.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if !ca_file.is_empty() {
        for cert in ca_certificates(ca_file)? {
            roots.add(cert).map_err(|e| tls_error(ca_file, e))?;
        }
    }
    let provider = rustls::crypto::ring::default_provider();
    let tls = rustls::ClientConfig::builder_with_provider(provider.into())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(ca_file, e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.set_keepalive(Some(TCP_KEEPALIVE));
    http.enforce_http(false);
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(connector)
}

fn ca_certificates(path: &str) -> Result<Vec<CertificateDer<'static>>, ClickHouseError> {
    let size = std::fs::metadata(path)
        .map_err(|e| tls_error(path, e))?
        .len();
    if size > MAX_CA_FILE_BYTES {
        return Err(tls_error(
            path,
            format!("{size} bytes; a CA bundle is at most {MAX_CA_FILE_BYTES}"),
        ));
    }
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| tls_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(path, e))?;
    if certs.is_empty() {
        return Err(tls_error(path, "no PEM certificate in the file"));
    }
    Ok(certs)
}

fn tls_error(path: &str, e: impl std::fmt::Display) -> ClickHouseError {
    ClickHouseError::Tls {
        path: path.to_string(),
        message: e.to_string(),
    }
}
