# Starts the test broker and the ClickHouse server, and stops both when the
# calling script exits. Sourced from the repository root.
source scripts/lib/common.sh
source scripts/lib/tansu.sh
source scripts/lib/clickhouse.sh

servers_start() {
    trap 'tansu_stop; clickhouse_stop' EXIT
    tansu_start
    clickhouse_start
}
