#!/usr/bin/env bash
# Benchmarks: engine (decisions/s, replay events/s, bytes per open complaint)
# and Kafka (raw consume vs complaintflow processing on one broker and topic).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/tansu.sh
trap tansu_stop EXIT
tansu_start
cargo bench --bench engine --bench kafka "$@"
