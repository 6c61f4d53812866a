#!/usr/bin/env bash
# Containers through the node agent's REST API, end to end: the packaged agent (Quarkus jar) with Linux guests,
# an image on a loopback registry, sandboxes created from it. Every step is checked; exit status 0 = all passed.
#   tests/node-agent-containers/run.sh          (from ./flotilla's environment: FLOTILLA_HOME, JAVA_HOME)
# On a host without hardware KVM (PVM here) it re-runs itself inside the lab. Needs `mvn install` and
# `mvn -pl node-agent package`, and the guest artifacts.
set -uo pipefail
SELF=$(realpath "$0")
cd "$FLOTILLA_HOME"
OUT="${FLOTILLA_AGENT_CONTAINERS_OUT:-$FLOTILLA_HOME/tests/target/node-agent-containers}"
if [[ "${1:-}" != --inside ]]; then
  source "$FLOTILLA_HOME/scripts/lib.sh"
  guest_paths
  mkdir -p "$OUT"
  kind_line=$("$FLOTILLA_HOME/guest/lab/lab.sh" kvm-kind)
  case "${kind_line%%:*}" in
    hardware) exec "$SELF" --inside ;;
    *) exec "$FLOTILLA_HOME/guest/lab/lab.sh" run --rw "$OUT" --timeout "${FLOTILLA_E2E_TIMEOUT:-1200}" -- \
         env FLOTILLA_HOME="$FLOTILLA_HOME" JAVA_HOME="$JAVA_HOME" FLOTILLA_AGENT_CONTAINERS_OUT="$OUT" \
         FLOTILLA_KERNEL="$FLOTILLA_KERNEL" FLOTILLA_INITRD="$FLOTILLA_INITRD" FLOTILLA_CMDLINE="$FLOTILLA_CMDLINE" /bin/bash "$SELF" --inside ;;
  esac
fi

J="$JAVA_HOME/bin/java"
CP="$FLOTILLA_HOME/node-agent/containers/target/classes:$(cat "$FLOTILLA_HOME/node-agent/containers/target/bench.classpath")"
failures=0
check() { # check NAME TEXT PATTERN
  if grep -qE -- "$3" <<<"$2"; then echo "ok   $1"; else echo "FAIL $1: expected /$3/ in: $2"; failures=$((failures + 1)); fi
}
ref_file=$(mktemp)
"$J" -cp "$CP" "$FLOTILLA_HOME/tests/node-agent-containers/PushTestImage.java" "$ref_file" >"$OUT/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 1 600); do [[ -s "$ref_file" ]] && break; sleep 0.5; done
REF=$(sed -n 1p "$ref_file"); ADDR=$(sed -n 2p "$ref_file")
[[ -n "$REF" ]] || { echo "FAIL the test registry did not come up: $(cat "$OUT/registry.log")"; exit 1; }
STATE=$(mktemp -d)
"$J" --enable-native-access=ALL-UNNAMED -Dquarkus.http.port=7071 -Dflotilla.node.state-dir="$STATE" -Dflotilla.node.auth.tokens=e2e \
  -Dflotilla.node.guests.linux-kernel="$FLOTILLA_KERNEL" -Dflotilla.node.guests.linux-initrd="$FLOTILLA_INITRD" \
  "-Dflotilla.node.guests.linux-cmdline=$FLOTILLA_CMDLINE" -Dflotilla.node.containers.insecure-registries="$ADDR" \
  -Dflotilla.node.guests.boot-timeout=180s -Dflotilla.node.containers.agent-timeout=180s \
  -jar "$FLOTILLA_HOME/node-agent/target/quarkus-app/quarkus-run.jar" >"$OUT/agent.log" 2>&1 &
agent_pid=$!
H="Authorization: Bearer e2e"
U=http://127.0.0.1:7071/api/v1
post() { curl -s -H "$H" -H 'Content-Type: application/json' -d "$2" "$U$1"; }
for _ in $(seq 1 300); do curl -sf -H "$H" "$U/node" >/dev/null && break; sleep 1; done

check "create from image defaults" "$(post /sandboxes "{\"name\":\"c1\",\"image\":\"$REF\",\"memoryMiB\":256}")" '"state":"STARTING"'
check "create with a command" "$(post /sandboxes "{\"name\":\"c2\",\"image\":\"$REF\",\"memoryMiB\":256,\"command\":[\"echo up; exec sleep 600\"]}")" '"image":'
check "unknown image is 422 with the registry's answer" "$(post /sandboxes "{\"name\":\"c3\",\"image\":\"$ADDR/smoke/nosuch:v1\"}")" '"status":422.*was not found in registry'
for _ in $(seq 1 240); do
  s1=$(curl -s -H "$H" "$U/sandboxes/c1"); l2=$(curl -s -H "$H" "$U/sandboxes/c2/containers/main/logs")
  [[ "$s1" == *'"state":"STOPPED"'* || "$s1" == *'"state":"FAILED"'* ]] && [[ "$l2" == *up* ]] && break
  sleep 1
done
check "main's exit 0 stops the sandbox" "$(curl -s -H "$H" "$U/sandboxes/c1")" '"state":"STOPPED","message":"container main exited with code 0"'
check "logs after the VM ended" "$(curl -s -H "$H" "$U/sandboxes/c1/containers/main/logs")" '^hello from c1$'
check "containers list" "$(curl -s -H "$H" "$U/sandboxes/c2/containers")" '"id":"main".*"running":true'
check "exec sees the sandbox host name and pid 1" \
  "$(post /sandboxes/c2/containers/main/exec '{"id":"x1","command":["sh","-c","hostname; cat /proc/1/comm"]}')" '"exitCode":0.*"stdout":"c2\\nsleep\\n"'
check "second container" "$(post /sandboxes/c2/containers '{"id":"side","command":["echo side-car"]}')" '"id":"side"'
check "follow ends at the exit" "$(timeout 60 curl -s -H "$H" "$U/sandboxes/c2/containers/side/logs?follow=true")" '^side-car$'
check "bad signal is 400" "$(post /sandboxes/c2/containers/main/signal '{"signal":99}')" '"status":400.*"field":"signal"'
check "unknown container is 404" "$(curl -s -H "$H" "$U/sandboxes/c2/containers/nope/logs")" '"status":404'
post /sandboxes/c2/containers/main/signal '{"signal":9}' >/dev/null
for _ in $(seq 1 60); do curl -s -H "$H" "$U/sandboxes/c2" | grep -q '"state":"FAILED"' && break; sleep 1; done
check "main killed fails the sandbox with the signal" "$(curl -s -H "$H" "$U/sandboxes/c2")" '"state":"FAILED","message":"container main was killed by signal 9"'
kill "$agent_pid"; wait "$agent_pid" 2>/dev/null
kill "$registry_pid" 2>/dev/null
echo "node-agent containers: $failures failure(s)"
[[ $failures == 0 ]]
