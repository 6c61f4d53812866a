#!/usr/bin/env bash
# The node agent from ./flotilla: builds its jar when missing or stale, then
#   agent [ARGS]            runs the agent in the foreground (Linux guest paths from guest/build.sh when built)
#   sandbox ...|node        the CLI for a running agent's API
#   bench density ...       the density benchmark (starts its own agent)
set -euo pipefail
FLOTILLA_HOME="${FLOTILLA_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
JAR="$FLOTILLA_HOME/node-agent/target/quarkus-app/quarkus-run.jar"
log() { echo "flotilla: $*" >&2; }

stale() {
  [[ ! -f "$JAR" ]] && return 0
  [[ -n "$(find "$FLOTILLA_HOME/node-agent/src/main" "$FLOTILLA_HOME/vmm-engine/src/main" \
      "$FLOTILLA_HOME/control-plane/contract/src/main" -newer "$JAR" -type f 2>/dev/null | head -1)" ]]
}

if stale; then
  log "building the node agent"
  (cd "$FLOTILLA_HOME" && mvn -B -q -pl node-agent -am -DskipTests install)
fi

java_() { exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED "$@"; }

cmd="$1"; shift
case "$cmd" in
  agent)
    args=()
    # Linux guests where the host can boot them: the cached guest artifacts, if they were built.
    source "$FLOTILLA_HOME/scripts/lib.sh"
    if [[ -d "${FLOTILLA_CACHE:-$HOME/.cache/flotilla}" ]] && guest_paths 2>/dev/null && [[ -f "${FLOTILLA_KERNEL:-}" ]]; then
      args+=("-Dflotilla.node.guests.linux-kernel=$FLOTILLA_KERNEL" "-Dflotilla.node.guests.linux-initrd=$FLOTILLA_INITRD"
             "-Dflotilla.node.guests.linux-cmdline=$FLOTILLA_CMDLINE")
    fi
    java_ "${args[@]}" "$@" -jar "$JAR"
    ;;
  sandbox|node)
    java_ -jar "$JAR" "$cmd" "$@"
    ;;
  bench)
    cd "$FLOTILLA_HOME"
    java_ -jar "$JAR" bench "$@"
    ;;
esac
