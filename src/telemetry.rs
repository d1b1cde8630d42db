//! What `/metrics` says: every metric's HELP text (written once, here),
//! the process's own figures (CPU, memory, open files) and the running
//! rules' version, which follows hot reloads.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Gives each metric its HELP text. Call once, after installing the
/// recorder and before the first scrape.
pub fn describe() {
    describe_counter!(
        "complaintflow_events_in_total",
        "Events read from the input, by type"
    );
    describe_counter!(
        "complaintflow_events_held_total",
        "Events held until the event they follow arrives"
    );
    describe_counter!(
        "complaintflow_duplicates_total",
        "Redelivered events (same event_id, same content), ignored"
    );
    describe_counter!(
        "complaintflow_decisions_total",
        "Rule decisions made, by category"
    );
    describe_counter!(
        "complaintflow_outputs_total",
        "Output records written, by kind"
    );
    describe_counter!(
        "complaintflow_dead_letters_total",
        "Inputs sent to the dead-letter output, by reason code"
    );
    describe_gauge!(
        "complaintflow_partition_caught_up",
        "1 when the partition has read up to its end offset once since assignment"
    );
    describe_gauge!(
        "complaintflow_consumer_lag",
        "Messages between the partition's end and the consumer's position"
    );
    describe_gauge!(
        "complaintflow_open_complaints",
        "Complaints not closed, by partition"
    );
    describe_gauge!(
        "complaintflow_timers_pending",
        "SLA timers waiting to fire, by partition"
    );
    describe_gauge!(
        "complaintflow_events_held",
        "Events waiting for the event they follow, by partition"
    );
    describe_histogram!(
        "complaintflow_output_latency_seconds",
        Unit::Seconds,
        "From the input message's broker timestamp to its outputs being durable"
    );
    describe_histogram!(
        "complaintflow_batch_seconds",
        Unit::Seconds,
        "Time to process and write one batch of input messages"
    );
    describe_counter!(
        "complaintflow_clickhouse_skipped_total",
        "Output lines the ClickHouse loader skipped as unparsable"
    );
    describe_gauge!(
        "complaintflow_clickhouse_pending_rows",
        "Rows buffered for the next ClickHouse insert"
    );
    describe_gauge!(
        "complaintflow_clickhouse_lag",
        "Output messages not yet loaded into ClickHouse"
    );
    describe_histogram!(
        "complaintflow_clickhouse_batch_rows",
        "Rows per ClickHouse insert"
    );
    describe_counter!(
        "complaintflow_clickhouse_rows_total",
        "Rows inserted into ClickHouse"
    );
    describe_counter!(
        "complaintflow_clickhouse_errors_total",
        "ClickHouse inserts that failed and will be retried"
    );
    describe_counter!(
        "complaintflow_clickhouse_rejected_rows_total",
        "Rows ClickHouse refused, written to rejected_rows, by table"
    );
    describe_counter!(
        "complaintflow_rule_errors_total",
        "Rule script failures (the decision fell back)"
    );
    describe_counter!(
        "complaintflow_rules_reloads_total",
        "Hot reloads of rules/, by result (ok, failed)"
    );
    describe_gauge!(
        "complaintflow_rules_info",
        "1 for the ruleset version deciding now, 0 for versions replaced by a reload"
    );
    process().describe();
}

/// The process metrics' collector, made once.
fn process() -> &'static metrics_process::Collector {
    static COLLECTOR: std::sync::OnceLock<metrics_process::Collector> = std::sync::OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// Records the process's CPU, memory and open files; call per scrape.
pub fn collect_process() {
    process().collect();
}

/// Marks `version` as the rules deciding now and `replaced` (if any) as no
/// longer: an operator reads `complaintflow_rules_info == 1`.
pub fn rules_version(replaced: Option<&str>, version: &str) {
    if let Some(old) = replaced.filter(|old| *old != version) {
        metrics::gauge!("complaintflow_rules_info", "version" => old.to_string()).set(0.0);
    }
    metrics::gauge!("complaintflow_rules_info", "version" => version.to_string()).set(1.0);
}
