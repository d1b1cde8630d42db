#!/usr/bin/env bash
# Engine benchmarks: decisions/s, replay events/s (>= 1M events), bytes per open complaint.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench engine "$@"
