#!/usr/bin/env bash
# End-to-end test of `./flotilla up` with tiny guests (any /dev/kvm; no lab): real control plane on its embedded
# PostgreSQL, real node agent, real KVM. Uses a scratch data directory and free ports, so it never touches the
# user's ~/.local/share/flotilla or a stack already running. Three cases, each can fail on its own:
#   1. a taken control-plane port: up refuses at once, naming the port, and starts nothing
#   2. foreground mode: while up runs, the demo sandbox is RUNNING on the registered node as seen independently
#      through the control plane's API and the agent's contract API; dashboard, OpenAPI and metrics answer;
#      Ctrl-C (SIGINT) stops both services and frees both ports
#   3. --once on the same data: the earlier demo is replaced, the run exits 0 and stops everything
#   4. a control plane that cannot start (bad setting): up fails with its exit status and the cause from its log
# Called by scripts/test.sh after the Maven build (the jars exist); about 2 minutes on a busy 2-core machine.
set -euo pipefail
FLOTILLA_HOME="${FLOTILLA_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$FLOTILLA_HOME"

SCRATCH=$(mktemp -d /tmp/flotilla-test-up.XXXXXX)
export FLOTILLA_DATA="$SCRATCH/data"
UP_PID=""
HOLDER_PID=""
cleanup() {
  [[ -n "$HOLDER_PID" ]] && kill "$HOLDER_PID" 2>/dev/null || true
  [[ -n "$UP_PID" ]] && kill -TERM "$UP_PID" 2>/dev/null && wait "$UP_PID" 2>/dev/null || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

failures=0
pass() { echo "test-up: PASS $*"; }
flunk() { echo "test-up: FAIL $*" >&2; failures=$((failures + 1)); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_free() { [[ -z "$(ss -Hltn "sport = :$1")" ]]; }
CP_PORT=$(free_port)
AGENT_PORT=$(free_port)
while [[ "$AGENT_PORT" == "$CP_PORT" ]]; do AGENT_PORT=$(free_port); done
CP="http://127.0.0.1:$CP_PORT"
AG="http://127.0.0.1:$AGENT_PORT"
# scripts/up.sh is what `./flotilla up` runs once it has found the JDK and the Debian packages (done by our caller).
export FLOTILLA_HOME JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
UP=("$FLOTILLA_HOME/scripts/up.sh" --no-linux --port "$CP_PORT" --agent-port "$AGENT_PORT")

# ---- 1. a taken port ---------------------------------------------------------------------------
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("0.0.0.0",int(sys.argv[1]))); s.listen(); time.sleep(600)' "$CP_PORT" &
HOLDER_PID=$!
for _ in $(seq 50); do port_free "$CP_PORT" || break; sleep 0.1; done
rc=0
out=$("${UP[@]}" --once 2>&1) || rc=$?
kill "$HOLDER_PID"; wait "$HOLDER_PID" 2>/dev/null || true; HOLDER_PID=""
if ((rc != 0)) && grep -q "port $CP_PORT for the control-plane API is already in use" <<<"$out" \
   && ! grep -q "starting the control plane" <<<"$out" && port_free "$AGENT_PORT"; then
  pass "up_controlPlanePortTaken_refusesNamingThePort"
else
  flunk "up_controlPlanePortTaken_refusesNamingThePort (status $rc): $out"
fi

# ---- 2. foreground, then Ctrl-C --------------------------------------------------------------------
LOG="$SCRATCH/up-foreground.log"
# A background job of a script starts with SIGINT ignored; restore the default so up sees Ctrl-C as from a terminal.
python3 -c 'import os,signal,sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
  "${UP[@]}" >"$LOG" 2>&1 &
UP_PID=$!
deadline=$((SECONDS + 300))
until grep -q "running; press Ctrl-C" "$LOG"; do
  if ! kill -0 "$UP_PID" 2>/dev/null || ((SECONDS > deadline)); then
    cat "$LOG" >&2; flunk "up_foreground_reachesRunning: up ended or timed out before it was running"; exit 1
  fi
  sleep 1
done
ADMIN=$(<"$FLOTILLA_DATA/control-plane/admin-token")
AGENT_TOKEN=$(<"$FLOTILLA_DATA/node-agent/api-token")
get() { curl -sS --max-time 10 -H "Authorization: Bearer $2" "$1"; }
demo=$(get "$CP/api/v1/sandboxes/demo" "$ADMIN")
node=$(jq -r .node <<<"$demo")
id=$(jq -r .id <<<"$demo")
agent_state=$(get "$AG/v1/sandboxes/$id" "$AGENT_TOKEN" | jq -r .state)
node_state=$(get "$CP/api/v1/nodes/$node" "$ADMIN" | jq -r .state)
if [[ "$(jq -r .observedState <<<"$demo")" == RUNNING && "$agent_state" == RUNNING && "$node_state" == READY \
      && "$(jq -r .image <<<"$demo")" == flotilla/tiny ]]; then
  pass "up_foreground_demoSandboxRunsOnTheRegisteredNodeViaTheControlPlane"
else
  flunk "up_foreground_demoSandboxRunsOnTheRegisteredNodeViaTheControlPlane: control plane $demo; agent $agent_state; node $node_state"
fi
if get "$AG/api/v1/sandboxes/$id/console" "$AGENT_TOKEN" | grep -q "flotilla tiny guest demo" \
   && grep -q "flotilla tiny guest demo" "$LOG"; then
  pass "up_foreground_printsTheDemoConsole"
else
  flunk "up_foreground_printsTheDemoConsole"
fi
codes=""
for url in "$CP/ui" "$CP/q/openapi" "$CP/q/metrics" "$AG/q/metrics" "$AG/q/openapi"; do
  grep -qF "$url" "$LOG" || codes+=" not-printed:$url"
  code=$(curl -sL -o /dev/null -w '%{http_code}' --max-time 10 "$url")
  [[ "$code" == 200 ]] || codes+=" $url=$code"
done
grep -qF "$FLOTILLA_DATA/control-plane/admin-token" "$LOG" || codes+=" admin-token-location-not-printed"
if [[ -z "$codes" ]]; then pass "up_foreground_printedUrlsAnswer"; else flunk "up_foreground_printedUrlsAnswer:$codes"; fi

kill -INT "$UP_PID"
rc=0
for _ in $(seq 90); do kill -0 "$UP_PID" 2>/dev/null || break; sleep 1; done
if kill -0 "$UP_PID" 2>/dev/null; then
  flunk "up_ctrlC_stopsBothServices: still running 90 s after SIGINT"
else
  wait "$UP_PID" || rc=$?
  UP_PID=""
  if ((rc == 0)) && port_free "$CP_PORT" && port_free "$AGENT_PORT" \
     && grep -q "stopped the node agent" "$LOG" && grep -q "stopped the control plane" "$LOG"; then
    pass "up_ctrlC_stopsBothServices"
  else
    tail -n 20 "$LOG" >&2
    flunk "up_ctrlC_stopsBothServices (status $rc)"
  fi
fi

# ---- 3. --once on the same data -------------------------------------------------------------------------
rc=0
out=$("${UP[@]}" --once 2>&1) || rc=$?
if ((rc == 0)) && grep -q "deleting the demo sandbox of an earlier run" <<<"$out" \
   && grep -q "demo is RUNNING on node" <<<"$out" && grep -q "the demo sandbox is deleted" <<<"$out" \
   && port_free "$CP_PORT" && port_free "$AGENT_PORT"; then
  pass "up_once_replacesTheEarlierDemoAndExitsCleanly"
else
  echo "$out" >&2
  flunk "up_once_replacesTheEarlierDemoAndExitsCleanly (status $rc)"
fi

# ---- 4. a service that fails to start -------------------------------------------------------------------
rc=0
out=$(FLOTILLA_SCHEDULER_FILTERS=no-such-filter "${UP[@]}" --once 2>&1) || rc=$?
if ((rc != 0)) && grep -q "waiting for the control plane to be ready: the process exited with status" <<<"$out" \
   && grep -q "unknown scheduler filter 'no-such-filter'" <<<"$out" && ! grep -q "starting the node agent" <<<"$out" \
   && port_free "$CP_PORT" && port_free "$AGENT_PORT"; then
  pass "up_controlPlaneFailsToStart_reportsTheCauseFromItsLog"
else
  echo "$out" | tail -n 30 >&2
  flunk "up_controlPlaneFailsToStart_reportsTheCauseFromItsLog (status $rc)"
fi

if ((failures)); then echo "test-up: $failures failed" >&2; exit 1; fi
echo "test-up: all passed"
