# Test ClickHouse server: the real engine from the pinned npm package
# @chdb/lib-linux-x64-gnu (libchdb.so), whose command-line entry point runs
# the HTTP interface while a keep-alive query blocks. Sourced by
# scripts/test.sh after scripts/lib/common.sh; the package is cached outside the repo, never committed.

CHDB_VERSION=26.7.3-stable.1
CHDB_SHA256=c0d32b129e988f2b9a9a31c9141aecf5e1e2453f9a079efc4d36ab8e3f92b2ad

clickhouse_install() {
    CHDB_LIB="$CACHE_DIR/chdb-$CHDB_VERSION/package/libchdb.so"
    [ -f "$CHDB_LIB" ] && return 0
    local dir="$CACHE_DIR/chdb-$CHDB_VERSION"
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "@chdb/lib-linux-x64-gnu@$CHDB_VERSION" >/dev/null)
    local tgz="$dir/chdb-lib-linux-x64-gnu-$CHDB_VERSION.tgz"
    echo "$CHDB_SHA256  $tgz" | sha256sum -c --quiet - || { echo "chdb package checksum mismatch" >&2; return 1; }
    tar -xzf "$tgz" -C "$dir"
    rm -f "$tgz"
}

# Starts a server on a free port; exports COMPLAINTFLOW_TEST_CLICKHOUSE.
clickhouse_start() {
    clickhouse_install
    local port data
    port=$(free_port)
    data=$(mktemp -d "${TMPDIR:-/tmp}/complaintflow-ch.XXXXXX")
    CLICKHOUSE_DATA=$data
    python3 scripts/lib/clickhouse_server.py "$CHDB_LIB" "$port" "$data" >"$data.log" 2>&1 &
    CLICKHOUSE_PID=$!
    if wait_for 120 0.5 curl -sf "http://127.0.0.1:$port/?query=SELECT%201"; then
        export COMPLAINTFLOW_TEST_CLICKHOUSE="http://127.0.0.1:$port"
        # Tests that stop and restart a server of their own start it from this.
        export COMPLAINTFLOW_TEST_CHDB_LIB="$CHDB_LIB"
        echo "clickhouse pid $CLICKHOUSE_PID on $COMPLAINTFLOW_TEST_CLICKHOUSE"
        return 0
    fi
    echo "clickhouse did not start; see $data.log" >&2
    return 1
}

clickhouse_stop() {
    if [ -n "${CLICKHOUSE_PID:-}" ] && kill -0 "$CLICKHOUSE_PID" 2>/dev/null; then
        kill -TERM "$CLICKHOUSE_PID" 2>/dev/null || true
        for _ in $(seq 1 20); do kill -0 "$CLICKHOUSE_PID" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$CLICKHOUSE_PID" 2>/dev/null || true
    fi
    [ -n "${CLICKHOUSE_DATA:-}" ] && rm -rf "$CLICKHOUSE_DATA" "$CLICKHOUSE_DATA.log"
}
