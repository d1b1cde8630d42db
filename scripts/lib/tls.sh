# Test TLS and SASL: a CA and a server certificate made for this run
# (openssl), stunnel (Debian) terminating TLS in front of two more Tansu
# brokers, one of them requiring SASL/SCRAM (the pinned Tansu refuses its
# own --cert with --key), and stunnel terminating HTTPS in front of
# ClickHouse (clickhouse-local serves plain HTTP only).
# Sourced by scripts/lib/servers.sh after the plain servers have started.

tls_install() {
    command -v openssl >/dev/null && command -v stunnel4 >/dev/null && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "openssl and stunnel4 are needed for the TLS tests: apt-get install openssl stunnel4" >&2
        return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl stunnel4 >/dev/null
}

# Makes the CA and a certificate for localhost and 127.0.0.1 in $TLS_DIR.
tls_make_certificates() {
    TLS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/complaintflow-tls.XXXXXX")
    (
        cd "$TLS_DIR"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=complaintflow test CA" \
            -keyout ca.key -out ca.pem 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile server.ext -out server.pem 2>/dev/null
    )
    export COMPLAINTFLOW_TEST_CA_FILE="$TLS_DIR/ca.pem"
    # For tests that put a TLS endpoint of their own in front of a server.
    export COMPLAINTFLOW_TEST_TLS_CERT="$TLS_DIR/server.pem"
    export COMPLAINTFLOW_TEST_TLS_KEY="$TLS_DIR/server.key"
}

# stunnel_start NAME ACCEPT_PORT CONNECT_PORT: TLS on ACCEPT_PORT to plain CONNECT_PORT.
stunnel_start() {
    local name=$1 accept=$2 connect=$3
    cat >"$TLS_DIR/$name.conf" <<CONF
foreground = yes
pid =
[$name]
accept = 127.0.0.1:$accept
connect = 127.0.0.1:$connect
cert = $TLS_DIR/server.pem
key = $TLS_DIR/server.key
CONF
    stunnel4 "$TLS_DIR/$name.conf" >"$TLS_DIR/$name.log" 2>&1 &
    TLS_PIDS="${TLS_PIDS:-} $!"
    wait_for 50 0.1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$accept" || {
        echo "stunnel ($name) did not start; see $TLS_DIR/$name.log" >&2
        return 1
    }
}

# tansu_behind_tls NAME [BROKER FLAGS...]: a Tansu broker reachable only
# through stunnel; clients are told the TLS address. Sets TLS_ADDR.
tansu_behind_tls() {
    local name=$1 plain tls
    shift
    plain=$(free_port)
    tls=$(free_port)
    "$TANSU_BIN" broker --listener-url "tcp://127.0.0.1:$plain" --advertised-listener-url "tcp://localhost:$tls" \
        --storage-engine memory://tansu/ "$@" >"$TLS_DIR/tansu-$name.log" 2>&1 &
    TLS_PIDS="${TLS_PIDS:-} $!"
    wait_for 100 0.1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$plain" || {
        echo "tansu ($name) did not start; see $TLS_DIR/tansu-$name.log" >&2
        return 1
    }
    stunnel_start "kafka-$name" "$tls" "$plain"
    TLS_ADDR="localhost:$tls"
}

# Exports COMPLAINTFLOW_TEST_CA_FILE (and the server's _TLS_CERT, _TLS_KEY),
# COMPLAINTFLOW_TEST_TLS_BROKERS (SSL),
# COMPLAINTFLOW_TEST_SASL_BROKERS (SASL_SSL, SCRAM required) and
# COMPLAINTFLOW_TEST_CLICKHOUSE_HTTPS.
tls_start() {
    tls_install
    tls_make_certificates
    tansu_behind_tls tls
    export COMPLAINTFLOW_TEST_TLS_BROKERS=$TLS_ADDR
    # SCRAM is verified, but no user can be made: the pinned Tansu keeps
    # users in its storage, and with the memory engine creating the first
    # one already needs authentication (see the SASL test).
    tansu_behind_tls sasl --authentication
    export COMPLAINTFLOW_TEST_SASL_BROKERS=$TLS_ADDR
    local https
    https=$(free_port)
    stunnel_start clickhouse "$https" "${COMPLAINTFLOW_TEST_CLICKHOUSE##*:}"
    export COMPLAINTFLOW_TEST_CLICKHOUSE_HTTPS="https://localhost:$https"
    echo "TLS: brokers $COMPLAINTFLOW_TEST_TLS_BROKERS (SSL), $COMPLAINTFLOW_TEST_SASL_BROKERS (SASL_SSL); ClickHouse $COMPLAINTFLOW_TEST_CLICKHOUSE_HTTPS"
}

tls_stop() {
    local pid
    for pid in ${TLS_PIDS:-}; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    [ -n "${TLS_DIR:-}" ] && rm -rf "$TLS_DIR"
}
