#!/usr/bin/env bash
# Builds complaintflow from exactly the files the Dockerfile's build stage
# copies (there is no Docker engine here), so a file the build needs but the
# image lacks fails CI. Shares ./target, so only complaintflow itself is
# compiled; a debug build finds a missing file as surely as a release one.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
# COPY lines of the build stage (up to the second FROM), not COPY --from.
awk '/^FROM /{n++} n==1 && /^COPY / && !/--from=/' "${1:-Dockerfile}" | while read -r _ args; do
    set -- $args
    dest=${!#}
    for src in "${@:1:$#-1}"; do
        if [ "$dest" = "./" ]; then
            cp -r "$root/$src" "$ctx/"
        else
            mkdir -p "$ctx/$(dirname "$dest")"
            cp -r "$root/$src" "$ctx/$dest"
        fi
    done
done
echo "build context: $(cd "$ctx" && ls | tr '\n' ' ')"
(cd "$ctx" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}" cargo build --locked --quiet --bin complaintflow)
echo "ok: complaintflow builds from the Dockerfile's files"
