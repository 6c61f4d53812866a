#!/usr/bin/env bash
# Tests of the bare-host installation, without touching this host: install.sh into a staging root (--root), then
# checks of what it wrote; the systemd units checked by systemd-analyze against that root; every sysctl key of
# the tuning file present in this kernel's /proc/sys (a misspelt key would be skipped silently at boot).
#   deploy/test.sh     (needs control-plane/target/quarkus-app: mvn -pl control-plane -am package -DskipTests)
set -euo pipefail

FLOTILLA_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPLOY="$FLOTILLA_HOME/deploy"
JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
APP="$FLOTILLA_HOME/control-plane/target/quarkus-app"
[[ -f "$APP/quarkus-run.jar" ]] || { echo "deploy test: build the control plane first ($APP is missing)"; exit 1; }

work=$(mktemp -d /tmp/flotilla-deploy-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0
check() { # check DESCRIPTION COMMAND...
  local description="$1"; shift
  if "$@"; then echo "ok   $description"; else echo "FAIL $description"; failures=$((failures + 1)); fi
}
env_value() { sed -n "s/^$1=//p" "$2"; }

# 1. Every sysctl key exists on this kernel.
while IFS='=' read -r key _; do
  key=$(echo "$key" | xargs)
  check "sysctl $key exists" test -e "/proc/sys/${key//.//}"
done < <(grep -v '^\s*#' "$DEPLOY/sysctl/90-flotilla-node.conf" | grep '=')

# 2. Control plane with an external database, staged.
root="$work/root"
"$DEPLOY/install.sh" control-plane --root "$root" --app "$APP" --java-home "$JAVA_HOME" \
  --database external --jdbc-url jdbc:postgresql://db.example:5432/flotilla --db-user flotilla --db-password pw 2>/dev/null
env="$root/etc/flotilla/control-plane.env"
check "control-plane env file is mode 600" test "$(stat -c %a "$env")" = 600
check "control-plane admin token generated" test "$(env_value FLOTILLA_AUTH_ADMIN_TOKENS "$env" | wc -c)" -eq 49
check "control-plane join token generated" test -n "$(env_value FLOTILLA_AUTH_JOIN_TOKEN "$env")"
check "control-plane JDBC URL written" test "$(env_value QUARKUS_DATASOURCE_JDBC_URL "$env")" = jdbc:postgresql://db.example:5432/flotilla
check "control-plane application copied" test -f "$root/opt/flotilla/control-plane/quarkus-run.jar"
check "JDK linked" test -x "$root/opt/flotilla/jdk/bin/java"
check "control-plane unit installed" test -f "$root/etc/systemd/system/flotilla-control-plane.service"
admin=$(env_value FLOTILLA_AUTH_ADMIN_TOKENS "$env")
"$DEPLOY/install.sh" control-plane --root "$root" --app "$APP" --java-home "$JAVA_HOME" --database embedded 2>/dev/null
check "reinstall keeps the admin token" test "$(env_value FLOTILLA_AUTH_ADMIN_TOKENS "$env")" = "$admin"
check "embedded database removes the JDBC settings" test -z "$(env_value QUARKUS_DATASOURCE_JDBC_URL "$env")"
check "bad database mode is refused" bash -c "! '$DEPLOY/install.sh' control-plane --root '$root' --app '$APP' --database sqlite 2>/dev/null"

# 3. Node agent with the kubelet drop-in, staged. The control plane's application stands in for the node agent's
#    payload until node-agent/ exists: this checks the installation layout, not the agent.
"$DEPLOY/install.sh" node-agent --root "$root" --app "$APP" --java-home "$JAVA_HOME" \
  --control-plane http://cp.example:8480 --join-token join-0123 --kubelet 2>/dev/null
nenv="$root/etc/flotilla/node-agent.env"
check "node-agent env carries the control plane URL" test "$(env_value FLOTILLA_NODE_CONTROL_PLANE_URL "$nenv")" = http://cp.example:8480
check "node-agent env carries the CRI socket" test "$(env_value FLOTILLA_NODE_CRI_SOCKET "$nenv")" = /run/flotilla/cri.sock
check "node-agent pods use the node's CNI network" test "$(env_value FLOTILLA_NODE_CRI_POD_NETWORK "$nenv")" = cni
check "sysctl file installed" cmp -s "$DEPLOY/sysctl/90-flotilla-node.conf" "$root/etc/sysctl.d/90-flotilla-node.conf"
check "limits file installed" test -f "$root/etc/security/limits.d/90-flotilla.conf"
check "kubelet drop-in installed" grep -q 'container-runtime-endpoint=unix:///run/flotilla/cri.sock' \
  "$root/etc/systemd/system/kubelet.service.d/10-flotilla-cri.conf"
check "node-agent without a join token is refused" bash -c \
  "! '$DEPLOY/install.sh' node-agent --root '$root' --app '$APP' --control-plane http://x:8480 2>/dev/null"

# 4. The units, as systemd reads them. Copies with the staged root's paths, so their ExecStart binaries resolve.
mkdir -p "$work/units"
for unit in flotilla-control-plane flotilla-node-agent; do
  sed "s#/opt/flotilla/#$root/opt/flotilla/#g; s#/etc/flotilla/#$root/etc/flotilla/#g" \
    "$root/etc/systemd/system/$unit.service" > "$work/units/$unit.service"
  out=$(systemd-analyze verify --man=no "$work/units/$unit.service" 2>&1 \
    | grep -v -e 'kubelet.service' -e 'postgresql.service' || true)
  check "systemd-analyze verify $unit${out:+: $out}" test -z "$out"
done

# 5. The chart and the units agree on the node agent's settings.
for key in $(sed -n 's/^\(FLOTILLA_NODE_[A-Z_]*\)=.*/\1/p' "$nenv"); do
  check "chart passes $key too" grep -q "$(echo "$key" | tr 'A-Z_' 'a-z.' | sed 's/\./[.-]/g')" "$FLOTILLA_HOME/helm/flotilla/values.yaml"
done

if ((failures)); then echo "deploy test: $failures failure(s)"; exit 1; fi
echo "deploy test: all checks passed"
