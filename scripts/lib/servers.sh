# Starts the test broker, the ClickHouse server and their TLS endpoints, and stops them when the
# calling script exits. Sourced from the repository root.
source scripts/lib/common.sh
source scripts/lib/tansu.sh
source scripts/lib/clickhouse.sh
source scripts/lib/tls.sh

servers_start() {
    trap 'tls_stop; tansu_stop; clickhouse_stop' EXIT
    tansu_start
    clickhouse_start
    tls_start
}
