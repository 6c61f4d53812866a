#!/usr/bin/env bash
# `./flotilla bench pod-start [--runs N] [--warmup N] [--parallel P] [--guest linux|tiny] [--memory MiB] [--json FILE]`:
# RunPodSandbox + CreateContainer + StartContainer to the container's first CRI log line, through the node agent's
# CRI socket (the packaged agent, started as a child), serial and P in parallel, p50/p95, and each pod's time over
# its own VM's boot time. Linux pods natively on hardware KVM, elsewhere (PVM here) inside the lab like `bench boot`;
# `--guest tiny` (RunPodSandbox alone, no container) runs natively everywhere.
# Needs the node agent's jar (built when stale) and, for Linux pods, the guest artifacts.
set -euo pipefail
cd "$FLOTILLA_HOME"
source "$FLOTILLA_HOME/scripts/lib.sh"
JAR="$FLOTILLA_HOME/node-agent/target/quarkus-app/quarkus-run.jar"
if [[ ! -f "$JAR" || -n "$(find node-agent/src/main cri-shim/src/main node-agent/containers/src/main -newer "$JAR" -type f 2>/dev/null | head -1)" ]]; then
  echo "bench pod-start: building the node agent" >&2
  mvn -B -q -pl node-agent -am -DskipTests -Dflotilla.skipBrowserTests=true install
fi

rw=()
args=("$@")
guest=linux
for ((i = 0; i < ${#args[@]}; i++)); do
  if [[ "${args[i]}" == "--guest" && $((i + 1)) -lt ${#args[@]} ]]; then guest="${args[i + 1]}"; fi
  if [[ "${args[i]}" == "--json" && $((i + 1)) -lt ${#args[@]} ]]; then
    json=$(realpath -m "${args[i + 1]}")
    mkdir -p "$(dirname "$json")"
    args[i + 1]="$json"
    rw=(--rw "$(dirname "$json")")
  fi
done

bench=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -jar "$JAR" bench pod-start)
if [[ "$guest" == tiny ]]; then
  exec "${bench[@]}" "${args[@]}"
fi
"$FLOTILLA_HOME/guest/build.sh" all >&2
guest_paths
bench+=(--kernel "$FLOTILLA_KERNEL" --initrd "$FLOTILLA_INITRD" --cmdline "$FLOTILLA_CMDLINE" "${args[@]}")
kind_line=$("$FLOTILLA_HOME/guest/lab/lab.sh" kvm-kind)
echo "bench pod-start: host KVM: $kind_line"
case "${kind_line%%:*}" in
  hardware)
    exec "${bench[@]}" ;;
  *)
    echo "bench pod-start: this host's KVM cannot boot stock Linux guests; running inside the lab (figures comparable only to other lab figures)"
    # C1 only in the lab, as scripts/e2e.sh explains; the bench hands the setting on to the agent it starts.
    lab_bench=("${bench[0]}" ${FLOTILLA_LAB_JIT--XX:TieredStopAtLevel=1} "${bench[@]:1}")
    exec "$FLOTILLA_HOME/guest/lab/lab.sh" run --timeout "${FLOTILLA_BENCH_TIMEOUT:-2400}" "${rw[@]}" -- "${lab_bench[@]}" ;;
esac
