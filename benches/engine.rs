//! Engine benchmarks (single thread, so figures are per core):
//! rule decisions/s with the shipped rules, replay events/s over a generated
//! stream of >= 1M mixed lifecycle events, and heap bytes per open complaint.
//! Run: `scripts/bench.sh` (or `cargo bench --bench engine`).

use complaintflow::core::{DecisionInput, Effects, Engine, Origin, Output, Rules};
use complaintflow::driver::demo::{DemoConfig, generate};
use complaintflow::driver::replay::{Bounds, replay_reader};
use complaintflow::model::Event;
use complaintflow::model::event::EventBody;
use complaintflow::rules::RuleSet;
use complaintflow::sink::{OutputSink, SinkError};
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

/// The payload hash of an event built here: its JSON.
fn payload_of(ev: &Event) -> u64 {
    complaintflow::core::payload_hash(serde_json::to_string(ev).expect("serializes").as_bytes())
}

/// Counts live heap bytes, for the memory figure, over the allocator the
/// binary uses (mimalloc, src/main.rs).
struct Counting;
static INNER: mimalloc::MiMalloc = mimalloc::MiMalloc;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { INNER.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { INNER.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { INNER.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Serializes every output like the JSONL sink, into a reused buffer.
#[derive(Default)]
struct SerializeOnly {
    buf: Vec<u8>,
    rows: u64,
}

impl SerializeOnly {
    fn write<T: serde::Serialize>(&mut self, v: &T) -> Result<(), SinkError> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, v).expect("serializes");
        self.rows += 1;
        Ok(())
    }
}

impl OutputSink for SerializeOnly {
    fn put(&mut self, o: &Output) -> Result<(), SinkError> {
        match o {
            Output::Decision(d) => self.write(d),
            Output::Sla(e) => self.write(e),
            Output::DeadLetter(r) => self.write(&r.letter),
            Output::Complaint(row) => self.write(row),
            Output::Event(_) | Output::Changed(_) => Ok(()),
        }
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Each complaint decided once, in stream order, as in a replay: with the
/// memo (a fresh ruleset, so it starts empty) and without it (every
/// decision runs the script).
fn bench_decisions(lines: &[String]) {
    let received = complaintflow::driver::demo::receipts(lines);
    let at = chrono::Utc::now();
    let run = |rules: &RuleSet, n: usize| {
        let start = Instant::now();
        let mut fallbacks = 0u64;
        for (id, r) in received.iter().take(n) {
            let d = rules.decide(&DecisionInput {
                complaint_id: id,
                received: r,
                received_at: at,
                cycle: 0,
                previous_priority: None,
                comment: None,
                current: None,
            });
            fallbacks += d.reason.starts_with("fallback") as u64;
        }
        assert_eq!(fallbacks, 0, "the shipped rules fell back");
        n.min(received.len()) as f64 / start.elapsed().as_secs_f64()
    };
    let memo = RuleSet::embedded();
    let with_memo = run(&memo, usize::MAX);
    let script = run(&RuleSet::embedded().without_memo(), 30_000);
    println!(
        "rule decisions:   {with_memo:>10.0} decisions/s  ({} distinct complaints once each; {:.1} % from the memo; script alone {script:.0}/s)",
        received.len(),
        100.0 * memo.memo_hits() as f64 / received.len() as f64
    );
}

/// `end`: the stream's end, taken as "now" so no generated event counts as
/// coming from the future, whatever the machine's date.
fn bench_replay(rules: &RuleSet, lines: &[String], end: chrono::DateTime<chrono::Utc>) {
    let text = lines.join("\n");
    let mut best = f64::MAX;
    let mut summary = None;
    for _ in 0..3 {
        let mut sink = SerializeOnly::default();
        let start = Instant::now();
        let s = replay_reader(
            text.as_bytes(),
            "bench",
            rules,
            Bounds {
                until: None,
                now: Some(end),
            },
            &mut sink,
            |_| {},
        )
        .expect("replays");
        best = best.min(start.elapsed().as_secs_f64());
        summary = Some((s, sink.rows));
    }
    let (s, rows) = summary.expect("ran");
    println!(
        "replay:           {:>10.0} events/s     ({} lines, {} complaints, {rows} output rows; best of 3: {best:.2} s; parse + rules + lifecycle + JSON out)",
        s.lines as f64 / best,
        s.lines,
        s.complaints
    );
    // The parse floor: the same lines into serde_json's generic Value, same
    // run, same core, so replay's figure reads as a ratio to it.
    let mut floor = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let parsed = lines
            .iter()
            .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
            .count();
        std::hint::black_box(parsed);
        floor = floor.min(start.elapsed().as_secs_f64());
    }
    println!(
        "parse floor:      {:>10.0} events/s     (serde_json::Value of the same lines; replay is {:.2} of it)",
        lines.len() as f64 / floor,
        floor / best
    );
}

fn bench_memory(rules: &RuleSet, lines: &[String]) {
    // Open complaints: received and acknowledged (handling, one timer each).
    let events: Vec<Event> = lines
        .iter()
        .filter_map(|l| Event::from_json(l).ok())
        .filter(|e| matches!(e.body, EventBody::Received(_) | EventBody::Acknowledged(_)))
        .collect();
    let mut out = Effects::default();
    // The rules' memo is the ruleset's, shared by every complaint and
    // bounded: fill it first so it is not counted per complaint.
    let mut warm = Engine::new();
    for e in &events {
        let _ = warm.process(e, payload_of(e), Origin::default, rules, &mut out);
        out.clear();
    }
    drop(warm);
    let before = LIVE.load(Ordering::Relaxed);
    let mut engine = Engine::new();
    for e in &events {
        let _ = engine.process(e, payload_of(e), Origin::default, rules, &mut out);
        out.clear();
    }
    let after = LIVE.load(Ordering::Relaxed);
    let open = engine.open_count();
    println!(
        "memory:           {:>10.0} bytes per open complaint ({open} open, {} timers, {:.1} MiB live heap for the engine; state struct {} B)",
        (after - before) as f64 / open as f64,
        engine.pending_timers(),
        (after - before) as f64 / (1 << 20) as f64,
        std::mem::size_of::<complaintflow::core::Complaint>()
    );
    drop(engine);
}

fn main() {
    complaintflow::allocator::tune();
    // `cargo test --all-targets` runs benches without `--bench`: build-check only.
    if !std::env::args().any(|a| a == "--bench") {
        println!("engine bench: run with `cargo bench --bench engine` (scripts/bench.sh)");
        return;
    }
    let complaints: usize = std::env::var("BENCH_COMPLAINTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(135_000);
    let rules = RuleSet::embedded();
    let cfg = DemoConfig {
        complaints,
        days: 60,
        ..DemoConfig::default()
    };
    let t = Instant::now();
    let lines = generate(&cfg, &rules);
    println!(
        "generated {} events for {complaints} complaints in {:.1} s",
        lines.len(),
        t.elapsed().as_secs_f64()
    );
    bench_decisions(&lines);
    bench_replay(&rules, &lines, cfg.end().to_utc());
    bench_memory(&rules, &lines);
}
