#!/usr/bin/env bash
# The whole test suite: unit, property, scenario, schema, CLI and hot-reload
# tests. Needs only cargo today; later issues add the Kafka broker and the
# ClickHouse server, which this script will install, start and stop itself.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test"
cargo test --locked --all-targets

echo "== shipped rules pass their fixtures"
cargo run --locked --quiet -- rules test rules
