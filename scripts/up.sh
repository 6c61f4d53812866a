#!/usr/bin/env bash
# `./flotilla up [--once] [--no-linux] [--port N] [--agent-port N]`: the whole stack on this host.
#
#  1. builds what is missing: the control-plane and node-agent jars (Maven), the guest artifacts for step 6
#  2. starts the control plane on its embedded PostgreSQL (data in $FLOTILLA_DATA/control-plane)
#  3. starts a node agent natively (state in $FLOTILLA_DATA/node-agent), which registers with the control plane
#  4. creates the demo sandbox `demo` (image flotilla/tiny: runs on every KVM, PVM included) through the
#     control plane's API, waits until the agent reports it RUNNING and prints its serial console
#  5. prints where the APIs, OpenAPI, metrics, dashboard and admin token are
#  6. boots a Linux guest: on hardware KVM as sandbox `demo-linux` through the control plane; on a host that
#     cannot run Linux guests natively (PVM) inside the lab, as before (skip with --no-linux)
#  7. stays in the foreground until Ctrl-C (then stops the agent, then the control plane), or with --once
#     deletes the demo sandbox, stops both services and exits (0 when every step worked).
# Logs: $FLOTILLA_DATA/up/{control-plane,node-agent}.log. $FLOTILLA_DATA defaults to ~/.local/share/flotilla.
set -euo pipefail
FLOTILLA_HOME="${FLOTILLA_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$FLOTILLA_HOME"

say() { echo "flotilla up: $*"; }
fail() { echo "flotilla up: error: $*" >&2; exit 1; }

ONCE=false
LINUX=true
CP_PORT="${FLOTILLA_UP_PORT:-8480}"
AGENT_PORT="${FLOTILLA_UP_AGENT_PORT:-7070}"
while (($#)); do
  case "$1" in
    --once) ONCE=true ;;
    --no-linux) LINUX=false ;;
    --port) CP_PORT="${2:?--port needs a number}"; shift ;;
    --agent-port) AGENT_PORT="${2:?--agent-port needs a number}"; shift ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown option '$1' (options: --once, --no-linux, --port N, --agent-port N)" ;;
  esac
  shift
done
for p in "$CP_PORT" "$AGENT_PORT"; do
  [[ "$p" =~ ^[0-9]+$ ]] && ((p >= 1 && p <= 65535)) || fail "'$p' is not a TCP port number (1-65535)"
done
[[ "$CP_PORT" != "$AGENT_PORT" ]] || fail "the control plane and the node agent need different ports (both are $CP_PORT)"
[[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]] || fail "JAVA_HOME must name a JDK 25 or newer (./flotilla up finds one and sets it)"
for tool in curl jq ss; do
  command -v "$tool" >/dev/null || fail "'$tool' is needed (Debian package: $([[ $tool == ss ]] && echo iproute2 || echo "$tool"))"
done

DATA="${FLOTILLA_DATA:-${XDG_DATA_HOME:-$HOME/.local/share}/flotilla}"
CP_DATA="$DATA/control-plane"
AGENT_STATE="$DATA/node-agent"
LOGS="$DATA/up"
mkdir -p "$CP_DATA" "$AGENT_STATE" "$LOGS"
CP_LOG="$LOGS/control-plane.log"
AGENT_LOG="$LOGS/node-agent.log"
CP_URL="http://127.0.0.1:$CP_PORT"
AGENT_URL="http://127.0.0.1:$AGENT_PORT"
CP_JAR="$FLOTILLA_HOME/control-plane/target/quarkus-app/quarkus-run.jar"
AGENT_JAR="$FLOTILLA_HOME/node-agent/target/quarkus-app/quarkus-run.jar"

# ---- ports: say who holds one before starting anything ----------------------------------------
port_holder() { ss -Hltnp "sport = :$1" 2>/dev/null | head -1; }
check_port() {
  local holder
  holder=$(port_holder "$1")
  if [[ -n "$holder" ]]; then
    local who
    who=$(grep -o 'users:(([^)]*' <<<"$holder" | sed 's/users:((//') || true
    fail "port $1 for the $2 is already in use${who:+ by $who}: stop that process, or pick another port with $3 N"
  fi
}
check_port "$CP_PORT" "control-plane API" --port
check_port "$AGENT_PORT" "node-agent API" --agent-port

# ---- 1. build what is missing -------------------------------------------------------------------
newer_than() { [[ -n "$(find "${@:2}" -newer "$1" -type f 2>/dev/null | head -1)" ]]; }
SOURCES=("$FLOTILLA_HOME/vmm-engine/src/main" "$FLOTILLA_HOME/control-plane/contract/src/main")
if [[ ! -f "$CP_JAR" || ! -f "$AGENT_JAR" ]] \
   || newer_than "$CP_JAR" "${SOURCES[@]}" "$FLOTILLA_HOME/control-plane/src/main" "$FLOTILLA_HOME/web-ui" \
   || newer_than "$AGENT_JAR" "${SOURCES[@]}" "$FLOTILLA_HOME/node-agent/src/main"; then
  say "building the control plane and the node agent (Maven)"
  mvn -B -q -pl control-plane,node-agent -am -DskipTests install
fi
KIND_LINE=$("$FLOTILLA_HOME/guest/lab/lab.sh" kvm-kind)
KIND="${KIND_LINE%%[: ]*}"
say "host KVM: $KIND_LINE"
if $LINUX; then
  "$FLOTILLA_HOME/guest/build.sh" all >/dev/null   # its progress goes to stderr; the paths come from guest_paths
  source "$FLOTILLA_HOME/scripts/lib.sh"
  guest_paths
fi

# ---- services -----------------------------------------------------------------------------------
CP_PID=""
AGENT_PID=""
# The log's tail, and before it the errors and their root causes (a Quarkus start failure ends in a stack trace).
tail_log() {
  local causes
  causes=$(grep -E ' (ERROR|FATAL) |^Caused by: ' "$1" 2>/dev/null | tail -n 6 | cut -c1-400) || true
  echo "---- last lines of $1:" >&2
  tail -n "${2:-30}" "$1" >&2 || true
  [[ -n "$causes" ]] && { echo "---- errors in it:" >&2; echo "$causes" >&2; }
  echo "----" >&2
}

# Each service runs in its own session, so Ctrl-C reaches only this script, which stops them in order.
start_service() { # NAME LOG ENV... -- JAVA ARGS...
  local log="$2"; shift 2
  local envs=()
  while [[ "$1" != -- ]]; do envs+=("$1"); shift; done
  shift
  : >"$log"
  env "${envs[@]}" setsid "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED "$@" >>"$log" 2>&1 </dev/null &
}

stop_service() { # NAME PID
  local name="$1" pid="$2"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    say "the $name did not stop within 30 s of SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  say "stopped the $name"
}

stop_all() {
  # The agent first: it stops its VMs and would otherwise retry against a control plane that is gone.
  stop_service "node agent" "$AGENT_PID"; AGENT_PID=""
  stop_service "control plane" "$CP_PID"; CP_PID=""
}
trap stop_all EXIT
trap 'echo; say "interrupted; stopping"; stop_all; exit 130' INT TERM HUP

# curl wrapper: sets BODY and HTTP_STATUS (0: no answer) in this shell, so never call it inside $(...).
# Never fails on HTTP errors: callers decide.
HTTP_STATUS=0
BODY=""
api() { # METHOD URL TOKEN [JSON]
  local out
  local args=(-sS -o - -w '\n%{http_code}' -X "$1" -H "Authorization: Bearer $3" --max-time 10)
  [[ -n "${4:-}" ]] && args+=(-H 'Content-Type: application/json' --data "$4")
  if out=$(curl "${args[@]}" "$2" 2>/dev/null); then
    HTTP_STATUS="${out##*$'\n'}"
    BODY="${out%$'\n'*}"
  else
    HTTP_STATUS=0
    BODY=""
  fi
}

# Polls until CHECK (a shell command) succeeds; fails with the log tail when PID dies or TIMEOUT passes.
wait_for() { # WHAT TIMEOUT_S PID LOG CHECK...
  local what="$1" timeout="$2" pid="$3" log="$4"; shift 4
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      local rc=0; wait "$pid" 2>/dev/null || rc=$?
      tail_log "$log"
      [[ "$pid" == "$CP_PID" ]] && CP_PID="" || AGENT_PID=""
      fail "waiting for $what: the process exited with status $rc (log: $log)"
    fi
    if ((SECONDS >= deadline)); then
      tail_log "$log"
      fail "waiting for $what: not done after ${timeout} s (log: $log)"
    fi
    sleep 0.5
  done
}
http_ok() { [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" 2>/dev/null)" == 200 ]]; }

# ---- 2. control plane ---------------------------------------------------------------------------
say "starting the control plane on :$CP_PORT (embedded PostgreSQL, data in $CP_DATA; log $CP_LOG)"
start_service "control plane" "$CP_LOG" FLOTILLA_DATA_DIR="$CP_DATA" QUARKUS_HTTP_PORT="$CP_PORT" -- -jar "$CP_JAR"
CP_PID=$!
wait_for "the control plane to be ready" 180 "$CP_PID" "$CP_LOG" http_ok "$CP_URL/q/health/ready"
[[ -r "$CP_DATA/admin-token" && -r "$CP_DATA/join-token" ]] \
  || fail "the control plane started but wrote no admin-token/join-token into $CP_DATA (tokens configured elsewhere?)"
ADMIN_TOKEN=$(<"$CP_DATA/admin-token")
JOIN_TOKEN=$(<"$CP_DATA/join-token")
say "control plane ready"

# ---- 3. node agent ------------------------------------------------------------------------------
agent_args=()
if $LINUX && [[ "$KIND" == hardware ]]; then
  agent_args+=("-Dflotilla.node.guests.linux-kernel=$FLOTILLA_KERNEL" "-Dflotilla.node.guests.linux-initrd=$FLOTILLA_INITRD"
               "-Dflotilla.node.guests.linux-cmdline=$FLOTILLA_CMDLINE")
fi
say "starting the node agent on :$AGENT_PORT (state in $AGENT_STATE; log $AGENT_LOG)"
start_service "node agent" "$AGENT_LOG" FLOTILLA_NODE_STATE_DIR="$AGENT_STATE" QUARKUS_HTTP_PORT="$AGENT_PORT" \
  FLOTILLA_NODE_CONTROL_PLANE_URL="$CP_URL" FLOTILLA_NODE_CONTROL_PLANE_JOIN_TOKEN="$JOIN_TOKEN" \
  FLOTILLA_NODE_CONTROL_PLANE_ADVERTISE_URL="$AGENT_URL" -- "${agent_args[@]}" -jar "$AGENT_JAR"
AGENT_PID=$!
wait_for "the node agent to start" 120 "$AGENT_PID" "$AGENT_LOG" http_ok "$AGENT_URL/q/health/live"
AGENT_TOKEN=$(<"$AGENT_STATE/api-token")
api GET "$AGENT_URL/api/v1/node" "$AGENT_TOKEN"
NODE=$(jq -r '.name // empty' <<<"$BODY" 2>/dev/null || true)
[[ -n "$NODE" ]] || fail "the node agent answers but GET /api/v1/node gave no node name (HTTP $HTTP_STATUS)"
node_ready() {
  # The agent's own view first: a registration the control plane refuses will not succeed by waiting.
  api GET "$AGENT_URL/api/v1/node" "$AGENT_TOKEN"
  if [[ "$HTTP_STATUS" == 200 && "$(jq -r '.controlPlane.state // empty' <<<"$BODY")" == REJECTED ]]; then
    tail_log "$AGENT_LOG" 10
    fail "node $NODE did not register: $(jq -r '.controlPlane.lastError // "no reason given"' <<<"$BODY")"
  fi
  api GET "$CP_URL/api/v1/nodes/$NODE" "$ADMIN_TOKEN"
  [[ "$HTTP_STATUS" == 200 && "$(jq -r .state <<<"$BODY")" == READY ]]
}
wait_for "node $NODE to register with the control plane" 120 "$AGENT_PID" "$AGENT_LOG" node_ready
say "node $NODE registered and READY"

# ---- 4. the demo sandbox, through the control plane ----------------------------------------------
DEMO=demo
STATE=""
cp_state() { # sets STATE: the sandbox's observed state on the control plane, empty when unknown
  api GET "$CP_URL/api/v1/sandboxes/$1" "$ADMIN_TOKEN"
  STATE=""
  [[ "$HTTP_STATUS" == 200 ]] && STATE=$(jq -r '.observedState // empty' <<<"$BODY")
  return 0
}
# A demo left by an earlier run (the data survives restarts) is replaced, so this run shows a fresh create.
api GET "$CP_URL/api/v1/sandboxes/$DEMO" "$ADMIN_TOKEN"
if [[ "$HTTP_STATUS" == 200 ]]; then
  say "deleting the demo sandbox of an earlier run"
  api DELETE "$CP_URL/api/v1/sandboxes/$DEMO" "$ADMIN_TOKEN"
  gone() { api GET "$CP_URL/api/v1/sandboxes/$DEMO" "$ADMIN_TOKEN"; [[ "$HTTP_STATUS" == 404 ]]; }
  wait_for "the old demo sandbox to be deleted" 60 "$CP_PID" "$CP_LOG" gone
fi

say "creating sandbox '$DEMO' (image flotilla/tiny, 1 vCPU, 16 MiB) through the control plane: POST $CP_URL/api/v1/sandboxes"
api POST "$CP_URL/api/v1/sandboxes" "$ADMIN_TOKEN" \
  "{\"name\":\"$DEMO\",\"image\":\"flotilla/tiny\",\"vcpus\":1,\"memoryMiB\":16,\"labels\":{\"app\":\"flotilla-demo\"}}"
created="$BODY"
[[ "$HTTP_STATUS" == 201 ]] || fail "the control plane refused the demo sandbox (HTTP $HTTP_STATUS): $created"
DEMO_ID=$(jq -r .id <<<"$created")
say "created $DEMO ($DEMO_ID): $(jq -r '.observedState + (if .node then " on node " + .node else "" end)' <<<"$created")"
demo_running() {
  cp_state "$DEMO"
  if [[ "$STATE" == FAILED ]]; then
    api GET "$CP_URL/api/v1/sandboxes/$DEMO/events" "$ADMIN_TOKEN"
    echo "$BODY" >&2
    fail "the demo sandbox FAILED (its events above; agent log $AGENT_LOG)"
  fi
  [[ "$STATE" == RUNNING ]]
}
wait_for "the control plane to report $DEMO RUNNING" 90 "$AGENT_PID" "$AGENT_LOG" demo_running
api GET "$AGENT_URL/api/v1/sandboxes/$DEMO_ID" "$AGENT_TOKEN"
view="$BODY"
say "$DEMO is RUNNING on node $NODE (boot time $(jq -r '.bootTimeMillis // "?"' <<<"$view") ms, reported to the control plane)"
say "its serial console (GET $AGENT_URL/api/v1/sandboxes/$DEMO_ID/console):"
api GET "$AGENT_URL/api/v1/sandboxes/$DEMO_ID/console" "$AGENT_TOKEN"
console="$BODY"
while [[ "$console" == *$'\n' ]]; do console="${console%$'\n'}"; done
sed 's/^/  | /' <<<"$console"
grep -q "is up" <<<"$console" || fail "the demo sandbox runs but its console shows no banner (HTTP $HTTP_STATUS)"

# ---- 5. where everything is ----------------------------------------------------------------------
cat <<EOF

  Control-plane API  $CP_URL/api/v1        (e.g. curl -H "Authorization: Bearer \$(cat $CP_DATA/admin-token)" $CP_URL/api/v1/fleet)
  OpenAPI            $CP_URL/q/openapi
  Dashboard          $CP_URL/ui            (sign in with the admin token)
  Metrics            $CP_URL/q/metrics (fleet)   $AGENT_URL/q/metrics (node)
  Node-agent API     $AGENT_URL/api/v1     (OpenAPI $AGENT_URL/q/openapi)
  Admin token        $CP_DATA/admin-token
  Node-agent token   $AGENT_STATE/api-token
  Logs               $CP_LOG, $AGENT_LOG

EOF

# ---- 6. a Linux guest -----------------------------------------------------------------------------
if $LINUX; then
  case "$KIND" in
    hardware)
      LDEMO=demo-linux
      api GET "$CP_URL/api/v1/sandboxes/$LDEMO" "$ADMIN_TOKEN"
      if [[ "$HTTP_STATUS" == 200 ]]; then
        api DELETE "$CP_URL/api/v1/sandboxes/$LDEMO" "$ADMIN_TOKEN"
        lgone() { api GET "$CP_URL/api/v1/sandboxes/$LDEMO" "$ADMIN_TOKEN"; [[ "$HTTP_STATUS" == 404 ]]; }
        wait_for "the old $LDEMO sandbox to be deleted" 60 "$CP_PID" "$CP_LOG" lgone
      fi
      say "creating sandbox '$LDEMO' (image flotilla/linux: the Flotilla guest kernel and init) through the control plane"
      api POST "$CP_URL/api/v1/sandboxes" "$ADMIN_TOKEN" \
        "{\"name\":\"$LDEMO\",\"image\":\"flotilla/linux\",\"vcpus\":2,\"memoryMiB\":256,\"labels\":{\"app\":\"flotilla-demo\"}}"
      created="$BODY"
      [[ "$HTTP_STATUS" == 201 ]] || fail "the control plane refused $LDEMO (HTTP $HTTP_STATUS): $created"
      LID=$(jq -r .id <<<"$created")
      lrunning() { cp_state "$LDEMO"; [[ "$STATE" == FAILED ]] && fail "$LDEMO FAILED (see $AGENT_LOG)"; [[ "$STATE" == RUNNING ]]; }
      wait_for "the control plane to report $LDEMO RUNNING" 120 "$AGENT_PID" "$AGENT_LOG" lrunning
      say "$LDEMO is RUNNING; its serial console so far:"
      api GET "$AGENT_URL/api/v1/sandboxes/$LID/console" "$AGENT_TOKEN"
      tail -n 30 <<<"$BODY" | sed 's/^/  | /'
      ;;
    *)
      # Linux guests cannot boot on this host's KVM, so the agent here runs tiny guests only; the Linux
      # guest boots in the lab with the same VMM (a node agent inside the lab is not part of `up` yet).
      say "this host cannot run stock Linux guests natively; booting a Linux microVM inside the lab"
      say "(a nested host under QEMU TCG with emulated AMD-V: slow, but the same kernel, initramfs and VMM)"
      # C1 only in the lab (see scripts/e2e.sh: QEMU's multi-threaded TCG mis-executes re-patched JIT code).
      # shellcheck disable=SC2086
      "$FLOTILLA_HOME/guest/lab/lab.sh" run --timeout 600 -- "$JAVA_HOME/bin/java" ${FLOTILLA_LAB_JIT--XX:TieredStopAtLevel=1} --enable-native-access=ALL-UNNAMED \
        -cp "$FLOTILLA_HOME/vmm-engine/target/classes" dev.flotilla.vmm.cli.Main vm run --kernel "$FLOTILLA_KERNEL" \
        --initrd "$FLOTILLA_INITRD" --cmdline "$FLOTILLA_CMDLINE flotilla.exit=reboot" \
        --vcpus "${FLOTILLA_DEMO_VCPUS:-2}" --memory "${FLOTILLA_DEMO_MEMORY:-256}" \
        || fail "the Linux microVM in the lab did not boot cleanly (status $?)"
      ;;
  esac
fi

# ---- 7. --once, or the foreground -------------------------------------------------------------------
if $ONCE; then
  say "--once: deleting the demo sandbox and stopping the stack"
  api DELETE "$CP_URL/api/v1/sandboxes/$DEMO" "$ADMIN_TOKEN"
  removed() { api GET "$AGENT_URL/api/v1/sandboxes/$DEMO_ID" "$AGENT_TOKEN"; [[ "$HTTP_STATUS" == 404 ]]; }
  wait_for "the node agent to remove the demo sandbox" 60 "$AGENT_PID" "$AGENT_LOG" removed
  say "the demo sandbox is deleted"
  stop_all
  say "done"
  exit 0
fi

say "running; press Ctrl-C to stop the node agent and the control plane"
trap 'echo; say "stopping"; stop_all; exit 0' INT TERM HUP
# wait -n returns when either service ends on its own (or a trapped signal arrives).
set +e
wait -n "$CP_PID" "$AGENT_PID"
rc=$?
set -e
for pair in "control plane:$CP_PID:$CP_LOG" "node agent:$AGENT_PID:$AGENT_LOG"; do
  IFS=: read -r name pid log <<<"$pair"
  if ! kill -0 "$pid" 2>/dev/null; then
    [[ "$pid" == "$CP_PID" ]] && CP_PID="" || AGENT_PID=""
    tail_log "$log"
    fail "the $name stopped unexpectedly (status $rc); stopping the rest"
  fi
done
