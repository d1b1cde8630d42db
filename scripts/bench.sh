#!/usr/bin/env bash
# Benchmarks, each figure printed with its target (README "Benchmarks"):
#   engine:     rule decisions/s, replay events/s, bytes per open complaint
#   kafka:      live CPU against replay's, end-to-end latency (and the
#               broker's own), timer punctuality, restore of 1M complaints
#   clickhouse: the sink and the live loader against a bulk insert
#   analysts:   a year of 1M complaints loaded; every meeting query and the
#               report's reads for a month and the year, with and without
#               FINAL; table sizes and compression
# Starts a test broker and ClickHouse like the tests; about 15 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/servers.sh
servers_start
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%Y-%m-%d)"
cargo bench --bench engine --bench kafka --bench clickhouse --bench analysts "$@"
