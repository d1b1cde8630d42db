//! Replay: a JSONL file through the core on the event-time clock.

use super::summary::Summary;
use crate::core::{Applied, Clock, Engine, Output, Rules, Stream, seconds_after};
use crate::model::Timestamp;
use crate::sink::observed::Observed;
use crate::sink::{OutputSink, SinkError};
use crate::source::file::JsonlLines;
use std::io::BufRead;
use std::path::Path;

/// Replay failures: the input could not be read or an output not written.
/// Both are fatal for the run; re-running is safe (outputs are deterministic).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {path}: {source}")]
    Input {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// Where a replay's clock ends, and the wall-clock reading its future
/// guard uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bounds {
    /// Timers due before it fire at the end (default: the last event time).
    pub until: Option<Timestamp>,
    /// "Now" for refusing events from the future (default: the real clock
    /// when the replay starts; fixed, so one run is deterministic).
    pub now: Option<Timestamp>,
}

impl Bounds {
    /// Only `until`; "now" is the real clock.
    pub fn until(until: Option<Timestamp>) -> Bounds {
        Bounds { until, now: None }
    }
}

/// The replay driver: the shared event step on an event-time clock, and a
/// summary.
pub struct Replay<'r> {
    stream: Stream,
    rules: &'r dyn Rules,
    /// Outputs of the current step, on their way to the sink.
    out: Vec<Output>,
    summary: Summary,
    /// The wall-clock reading the future guard uses.
    wall_clock: Timestamp,
}

impl<'r> Replay<'r> {
    /// A replay whose future guard reads the real clock once, now.
    pub fn new(rules: &'r dyn Rules) -> Replay<'r> {
        Replay::at(rules, chrono::Utc::now())
    }

    /// A replay whose future guard takes `now` as the wall clock.
    pub fn at(rules: &'r dyn Rules, now: Timestamp) -> Replay<'r> {
        let summary = Summary {
            future_bound: seconds_after(now, rules.policy().max_clock_skew),
            ..Summary::default()
        };
        Replay {
            stream: Stream::default(),
            rules,
            out: Vec::new(),
            summary,
            wall_clock: now,
        }
    }

    /// Counts the outputs gathered and puts them into `sink`, observed as
    /// live mode's are.
    fn put_all(&mut self, sink: &mut dyn OutputSink) -> Result<(), SinkError> {
        let mut sink = Observed(sink);
        for o in self.out.drain(..) {
            self.summary.record(&o);
            sink.put(&o)?;
        }
        Ok(())
    }

    /// Feeds one payload; `source` names it for a dead letter.
    pub fn feed(
        &mut self,
        payload: &[u8],
        source: impl Fn() -> String,
        sink: &mut dyn OutputSink,
    ) -> Result<(), SinkError> {
        self.summary.lines += 1;
        let position = self.summary.lines as i64;
        let taken = self.stream.take(
            payload,
            position,
            &source,
            self.wall_clock,
            self.rules,
            &mut self.out,
        );
        match taken {
            Ok(Applied::Held) => self.summary.held += 1,
            Ok(Applied::Duplicate) => self.summary.duplicates += 1,
            Ok(Applied::Accepted) | Err(_) => {}
        }
        self.put_all(sink)
    }

    /// Moves the clock to `until` (default: the latest event time), fires the
    /// timers due before it (the input is complete: no lateness to wait
    /// for), writes one row per complaint and the summary.
    pub fn finish(
        mut self,
        until: Option<Timestamp>,
        sink: &mut dyn OutputSink,
    ) -> Result<Summary, SinkError> {
        if let Some(t) = until {
            self.stream.clock.observe(t);
        }
        let end = until.or(self.stream.clock.now());
        if let Some(end) = end {
            self.stream.advance(end, self.wall_clock, &mut self.out);
        }
        self.stream.end_of_input(self.wall_clock, &mut self.out);
        let mut rows: Vec<_> = self.stream.engine.complaints().map(|c| c.row()).collect();
        rows.sort_unstable_by(|a, b| a.complaint_id.cmp(&b.complaint_id));
        self.out.extend(rows.into_iter().map(Output::Complaint));
        self.put_all(sink)?;
        sink.flush()?;
        self.summary.ended_at = end;
        Ok(self.summary)
    }

    /// The engine, for inspection.
    pub fn engine(&self) -> &Engine {
        &self.stream.engine
    }
}

/// Replays a reader of JSONL into `sink`; `name` labels dead-letter sources
/// (`name:line`). `on_progress` gets the bytes consumed per line.
pub fn replay_reader(
    reader: impl BufRead,
    name: &str,
    rules: &dyn Rules,
    bounds: Bounds,
    sink: &mut dyn OutputSink,
    mut on_progress: impl FnMut(u64),
) -> Result<Summary, ReplayError> {
    let mut replay = Replay::at(rules, bounds.now.unwrap_or_else(chrono::Utc::now));
    for line in JsonlLines::new(reader) {
        let line = line.map_err(|source| ReplayError::Input {
            path: name.to_string(),
            source,
        })?;
        on_progress(line.bytes);
        let bytes = match &line.text {
            Ok(text) => text.as_bytes(),
            Err(bytes) => bytes.as_slice(),
        };
        replay.feed(bytes, || format!("{name}:{}", line.number), sink)?;
    }
    Ok(replay.finish(bounds.until, sink)?)
}

/// Replays `input` into the JSONL outputs in `out_dir`, with a progress bar
/// on a terminal for inputs over a few megabytes.
pub fn replay_file(
    input: &Path,
    out_dir: &Path,
    rules: &dyn Rules,
    bounds: Bounds,
    also: Option<&mut dyn OutputSink>,
) -> Result<Summary, ReplayError> {
    let name = input.display().to_string();
    let file = std::fs::File::open(input).map_err(|source| ReplayError::Input {
        path: name.clone(),
        source,
    })?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut files = crate::sink::file::JsonlSink::create(out_dir)?;
    let mut tee;
    let sink: &mut dyn OutputSink = match also {
        Some(other) => {
            tee = crate::sink::Tee(&mut files, other);
            &mut tee
        }
        None => &mut files,
    };
    let bar = if size > 4 << 20 {
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} replay [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut pending = 0u64;
    let summary = replay_reader(reader, &name, rules, bounds, sink, |n| {
        // Batch bar updates: per-line updates cost more than the replay.
        pending += n;
        if pending >= 1 << 20 {
            bar.inc(pending);
            pending = 0;
        }
    })?;
    bar.finish_and_clear();
    Ok(summary)
}
