//! `validate` and `health`: checks of input lines and of a running service.

use super::{load_rules, open_input};
use crate::core::Rules as _;
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Validate {
    /// File to check; `-` or none: standard input.
    file: Option<PathBuf>,
    /// Unknown fields are errors, not warnings (a misspelt optional
    /// field is otherwise lost without a word).
    #[arg(long)]
    strict: bool,
    /// Rules directory, for the bounds in its `sla.toml` (default:
    /// ./rules when it exists, else the built-in ruleset).
    #[arg(long)]
    rules: Option<PathBuf>,
}

impl Validate {
    pub(super) fn run(self) -> Result<()> {
        let rules = load_rules(self.rules.as_deref())?;
        let (reader, _) = open_input(self.file.as_deref())?;
        let (lines, bad) = validate(reader, rules.policy(), self.strict)?;
        let noun = if lines == 1 { "line" } else { "lines" };
        println!("{lines} {noun}: {} valid, {bad} bad", lines - bad);
        if bad > 0 {
            bail!("{bad} bad line(s)");
        }
        Ok(())
    }
}

#[derive(clap::Args)]
pub struct Health {
    /// The health endpoint.
    #[arg(long, default_value = "http://127.0.0.1:9898/healthz")]
    url: String,
}

impl Health {
    pub(super) fn run(self) -> Result<()> {
        let url = &self.url;
        let status = http_status(url).with_context(|| format!("asking {url}"))?;
        if status != 200 {
            bail!("{url} answered {status}");
        }
        println!("ok");
        Ok(())
    }
}

/// Checks each line as the service would admit it; prints one message per
/// bad line (and unknown fields, as warnings or, `strict`, errors).
/// Returns (lines, bad lines).
fn validate(
    reader: impl std::io::BufRead,
    policy: &crate::core::SlaPolicy,
    strict: bool,
) -> Result<(usize, usize)> {
    let now = chrono::Utc::now();
    let (mut lines, mut bad) = (0, 0);
    let mut pretty_printed = false;
    for line in crate::source::file::JsonlLines::new(reader) {
        let line = line.context("reading the input")?;
        lines += 1;
        let bytes = match &line.text {
            Ok(t) => t.as_bytes(),
            Err(b) => b.as_slice(),
        };
        match crate::core::admit(bytes, now, policy) {
            Err(r) => {
                bad += 1;
                // What people new to the format get wrong, said where it shows.
                let hint = if line.number == 1 && bytes.starts_with(b"\xEF\xBB\xBF") {
                    "; the file starts with a UTF-8 byte order mark (Excel's \"CSV UTF-8\" writes one): save it as UTF-8 without BOM".to_string()
                } else {
                    let text = line.text.as_deref().unwrap_or_default();
                    pretty_printed |= matches!(text.trim(), "{" | "[" | "}" | "}," | "]");
                    crate::model::event::misspelt_required(text, &r.detail)
                };
                println!("line {}: {r}{hint}", line.number);
            }
            Ok((text, _)) => {
                let unknown = crate::model::event::unknown_fields(text);
                if !unknown.is_empty() {
                    let level = if strict { "error" } else { "warning" };
                    bad += usize::from(strict);
                    println!(
                        "line {}: {level}: unknown field(s) {} (ignored when read)",
                        line.number,
                        unknown.join(", ")
                    );
                }
            }
        }
    }
    if pretty_printed {
        println!(
            "hint: one event per line (JSON Lines) is expected, and this looks like pretty-printed JSON: `jq -c . FILE` (or `jq -c '.[]' FILE` for an array) writes each event on one line"
        );
    }
    Ok((lines, bad))
}

/// The status code of a plain `GET` of an `http://host:port/path` URL.
fn http_status(url: &str) -> Result<u16> {
    use std::io::Read;
    let rest = url.strip_prefix("http://").context("only http:// URLs")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr = std::net::ToSocketAddrs::to_socket_addrs(host)?
        .next()
        .context("no address")?;
    let timeout = std::time::Duration::from_secs(3);
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    let line = String::from_utf8_lossy(&head);
    line.get(9..12)
        .and_then(|c| c.parse().ok())
        .context("not an HTTP answer")
}
