# Helpers shared by the server scripts (sourced first).

CACHE_DIR=${COMPLAINTFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/complaintflow}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for TRIES SECONDS CMD...: runs CMD until it succeeds, at most TRIES times.
wait_for() {
    local tries=$1 pause=$2
    shift 2
    for _ in $(seq 1 "$tries"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep "$pause"
    done
    return 1
}
