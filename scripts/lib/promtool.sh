# promtool, for the /metrics lint in tests/live.rs: Debian's prometheus
# package unpacked under target/tools (not installed: no service, no user).
# Exports PROMTOOL. Idempotent: a second run finds the unpacked binary.
promtool_install() {
    local dir="$PWD/target/tools/prometheus"
    if [ ! -x "$dir/usr/bin/promtool" ]; then
        local tmp
        tmp=$(mktemp -d "${TMPDIR:-/tmp}/complaintflow-promtool.XXXXXX")
        if ! (cd "$tmp" && apt-get download -qq prometheus 2>/dev/null); then
            apt-get update -qq >/dev/null
            (cd "$tmp" && apt-get download -qq prometheus)
        fi
        mkdir -p "$dir"
        dpkg-deb -x "$tmp"/prometheus_*.deb "$dir"
        rm -rf "$tmp"
    fi
    export PROMTOOL="$dir/usr/bin/promtool"
    "$PROMTOOL" --version 2>&1 | head -1
}
