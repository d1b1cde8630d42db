#!/usr/bin/env bash
# Benchmarks: engine (decisions/s, replay events/s, bytes per open complaint),
# Kafka (raw consume vs complaintflow processing on one broker and topic) and
# ClickHouse (the sink vs a bulk insert of the same rows on one server).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/servers.sh
servers_start
cargo bench --bench engine --bench kafka --bench clickhouse "$@"
