#!/usr/bin/env bash
# The whole test suite. Installs and starts what the integration tests need
# (a Kafka-protocol broker and a ClickHouse server), runs every test, and
# stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/servers.sh
source scripts/lib/promtool.sh
servers_start
promtool_install

# A fresh machine gains nothing from incremental caches and its disk may be small: say what
# there is, so a full disk reads as one in the log.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
df -h . | tail -1 | awk '{print "== disk: " $4 " free of " $2}'

echo "== cargo test"
cargo test --locked --all-targets

echo "== the image's build stage has every file the build needs"
scripts/dockerfile_check.sh

echo "== shipped rules pass their fixtures"
cargo run --locked --quiet -- rules test rules

du -sh target 2>/dev/null | awk '{print "== target/ holds " $1}'
