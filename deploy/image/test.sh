#!/usr/bin/env bash
# Image test: builds the service images, pushes them to a throwaway loopback registry (Debian's docker-registry),
# pulls each back and runs it on this host with runc (no Docker engine), then checks that it answers its health
# endpoint. The node agent runs with the mounts the Helm chart's DaemonSet gives it (devices from the host, state
# and socket directories in a temporary directory). Exit status 0 only when every image passed.
#   deploy/image/test.sh [MODULE...]      (default: control-plane, and node-agent when it exists)
set -euo pipefail

FLOTILLA_HOME="${FLOTILLA_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export FLOTILLA_HOME
for tool in docker-registry skopeo umoci runc jq curl; do
  command -v "$tool" >/dev/null || { echo "image test: $tool is needed (apt-get install ${tool/docker-registry/docker-registry})" >&2; exit 1; }
done

work=$(mktemp -d /tmp/flotilla-image-test.XXXXXX)
registry_pid=""
containers=()
cleanup() {
  for id in "${containers[@]}"; do
    runc kill "$id" KILL >/dev/null 2>&1 || true
    runc delete --force "$id" >/dev/null 2>&1 || true
  done
  [[ -n "$registry_pid" ]] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# 1. A loopback registry with its storage in the work directory.
registry_port=$(free_port)
registry="127.0.0.1:$registry_port"
cat > "$work/registry.yml" <<CONFIG
version: 0.1
storage:
  filesystem: {rootdirectory: $work/registry}
http: {addr: $registry}
log: {level: error}
CONFIG
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 50); do curl -fs "http://$registry/v2/" >/dev/null && break; sleep 0.2; done
curl -fs "http://$registry/v2/" >/dev/null || { echo "image test: the registry did not start:"; cat "$work/registry.log"; exit 1; }
echo "image test: registry on $registry"

# 2. Build and push.
mapfile -t images < <("$FLOTILLA_HOME/deploy/image/build.sh" --registry "$registry" --insecure "$@")
((${#images[@]})) || { echo "image test: no image was built"; exit 1; }

failures=0
fail() { echo "image test: FAIL: $*"; failures=$((failures + 1)); }

# 3. Every pushed image: metadata, then a run with its health endpoint polled.
for line in "${images[@]}"; do
  module=${line%% *}
  ref=${line#* }
  echo "image test: $module: $ref"
  config=$(skopeo inspect --config --tls-verify=false "docker://$ref")
  user=$(jq -r '.config.User' <<<"$config")
  entrypoint=$(jq -r '.config.Entrypoint | join(" ")' <<<"$config")
  [[ "$entrypoint" == *quarkus-run.jar* ]] || fail "$module: entrypoint '$entrypoint' does not start the Quarkus application"
  if [[ "$module" == control-plane && "$user" != 10001 ]]; then
    fail "$module: runs as user '$user', expected the non-root 10001 the chart's runAsNonRoot relies on"
  fi

  skopeo copy --quiet --src-tls-verify=false "docker://$ref" "oci:$work/oci-$module:test"
  bundle="$work/bundle-$module"
  umoci unpack --image "$work/oci-$module:test" "$bundle" >/dev/null
  port=$(free_port)
  # Host network as in the chart's DaemonSet (and reachable from here for the control plane); environment as the
  # chart passes it. The control plane has no JDBC URL here, so it starts its embedded PostgreSQL in its data dir.
  jq_filter='.process.terminal = false
    | .linux.namespaces |= map(select(.type != "network"))
    | .process.env += ["QUARKUS_HTTP_PORT=\($port)", "FLOTILLA_DATA_DIR=/var/lib/flotilla"]'
  if [[ "$module" == node-agent ]]; then
    # The DaemonSet's mounts (helm/flotilla/values.yaml nodeAgent.hostPaths), privileged, as root.
    mkdir -p "$work/node/state" "$work/node/cri" "$work/node/guest" "$work/node/pods"
    jq_filter+='
      | .process.user = {uid: 0, gid: 0}
      | .process.capabilities = {bounding: $caps, effective: $caps, permitted: $caps}
      | .linux.resources.devices = [{allow: true, access: "rwm"}]
      | .mounts += [
          {destination: "/dev/kvm", type: "bind", source: "/dev/kvm", options: ["bind"]},
          {destination: "/dev/net/tun", type: "bind", source: "/dev/net/tun", options: ["bind"]},
          {destination: "/var/lib/flotilla/node", type: "bind", source: ($w + "/node/state"), options: ["rbind"]},
          {destination: "/run/flotilla", type: "bind", source: ($w + "/node/cri"), options: ["rbind"]},
          {destination: "/var/lib/flotilla/guest", type: "bind", source: ($w + "/node/guest"), options: ["rbind", "ro"]},
          {destination: "/var/log/pods", type: "bind", source: ($w + "/node/pods"), options: ["rbind"]}]
      | .process.env += ["FLOTILLA_NODE_STATE_DIR=/var/lib/flotilla/node", "FLOTILLA_NODE_CRI_SOCKET=/run/flotilla/cri.sock"]'
  fi
  # "Privileged" as far as this host allows: every capability in our own bounding set (runc refuses others).
  bounding=$((16#$(awk '/^CapBnd/ {print $2}' /proc/self/status)))
  cap_indices=$(for bit in $(seq 0 40); do (( (bounding >> bit) & 1 )) && echo "$bit"; done | paste -sd, -)
  caps=$(jq -nc "[$cap_indices] | map([\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_DAC_READ_SEARCH\",\"CAP_FOWNER\",\"CAP_FSETID\",\"CAP_KILL\",\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETPCAP\",\"CAP_LINUX_IMMUTABLE\",\"CAP_NET_BIND_SERVICE\",\"CAP_NET_BROADCAST\",\"CAP_NET_ADMIN\",\"CAP_NET_RAW\",\"CAP_IPC_LOCK\",\"CAP_IPC_OWNER\",\"CAP_SYS_MODULE\",\"CAP_SYS_RAWIO\",\"CAP_SYS_CHROOT\",\"CAP_SYS_PTRACE\",\"CAP_SYS_PACCT\",\"CAP_SYS_ADMIN\",\"CAP_SYS_BOOT\",\"CAP_SYS_NICE\",\"CAP_SYS_RESOURCE\",\"CAP_SYS_TIME\",\"CAP_SYS_TTY_CONFIG\",\"CAP_MKNOD\",\"CAP_LEASE\",\"CAP_AUDIT_WRITE\",\"CAP_AUDIT_CONTROL\",\"CAP_SETFCAP\",\"CAP_MAC_OVERRIDE\",\"CAP_MAC_ADMIN\",\"CAP_SYSLOG\",\"CAP_WAKE_ALARM\",\"CAP_BLOCK_SUSPEND\",\"CAP_AUDIT_READ\",\"CAP_PERFMON\",\"CAP_BPF\",\"CAP_CHECKPOINT_RESTORE\"][.])")
  jq --argjson port "$port" --arg w "$work" --argjson caps "$caps" "$jq_filter" "$bundle/config.json" > "$bundle/config.json.new"
  mv "$bundle/config.json.new" "$bundle/config.json"

  id="flotilla-image-test-$module-$$"
  runc run --bundle "$bundle" "$id" > "$work/$module.log" 2>&1 &
  runtime_pid=$!
  containers+=("$id")
  started=$(date +%s)
  status=""
  while (( $(date +%s) - started < 180 )); do
    status=$(curl -s -o "$work/$module.health" -w '%{http_code}' "http://127.0.0.1:$port/q/health/ready" || true)
    [[ "$status" == 200 ]] && break
    kill -0 "$runtime_pid" 2>/dev/null || break
    sleep 1
  done
  if [[ "$status" == 200 ]]; then
    echo "image test: $module answered /q/health/ready after $(( $(date +%s) - started )) s: $(tr -d ' \n' < "$work/$module.health")"
  else
    fail "$module did not become ready (last HTTP status '${status:-none}'); its output:"
    tail -40 "$work/$module.log"
  fi
  runc kill "$id" TERM >/dev/null 2>&1 || true
  for _ in $(seq 30); do runc state "$id" 2>/dev/null | grep -q '"status": "stopped"' && break; sleep 1; done
  runc delete --force "$id" >/dev/null 2>&1 || true
done

if ((failures)); then
  echo "image test: $failures failure(s)"
  exit 1
fi
echo "image test: ${#images[@]} image(s) built, pushed to a loopback registry, run and healthy"
