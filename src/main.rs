use clap::Parser;
use complaintflow::cli::{Cli, run};
use tracing_subscriber::EnvFilter;

// glibc malloc/free took about a quarter of the live process's samples
// (many small output buffers, freed on other threads); with mimalloc the
// kafka bench went from 46k-52k to 54k-57k events/s.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    complaintflow::allocator::tune();
    let cli = Cli::parse();
    let filter =
        EnvFilter::try_from_env("COMPLAINTFLOW_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    // Colours only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if cli.log_json {
        logs.json().init();
    } else {
        logs.init();
    }
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each said once: the typed errors name their
/// cause in their own message too (for logs, which print one level).
fn chain(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    text
}
