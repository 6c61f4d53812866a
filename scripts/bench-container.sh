#!/usr/bin/env bash
# `./flotilla bench container-start [--runs N] [--warmup N] [--vcpus V] [--memory MiB] [--json FILE]`: time from "run this
# image" (already pulled) to the container's first output line, in phases (rootfs attach, VM boot, agent ready,
# container start), p50/p95. Natively on hardware KVM; elsewhere (PVM here) inside the lab, like `bench boot`.
# Needs `mvn install` (node-agent/containers/target/bench.classpath) and the guest artifacts.
set -euo pipefail
cd "$FLOTILLA_HOME"
GUEST_DIR="$FLOTILLA_HOME/guest"
"$GUEST_DIR/build.sh" all >&2
source "$FLOTILLA_HOME/scripts/lib.sh"
guest_paths
cpfile="$FLOTILLA_HOME/node-agent/containers/target/bench.classpath"
[[ -f "$cpfile" ]] || { echo "bench container-start: $cpfile missing: run mvn install first" >&2; exit 1; }

rw=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [[ "${args[i]}" == "--json" && $((i + 1)) -lt ${#args[@]} ]]; then
    json=$(realpath -m "${args[i + 1]}")
    mkdir -p "$(dirname "$json")"
    args[i + 1]="$json"
    rw=(--rw "$(dirname "$json")")
  fi
done

bench=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED
  -cp "$FLOTILLA_HOME/node-agent/containers/target/classes:$(cat "$cpfile")"
  dev.flotilla.containers.bench.ContainerStartBench --kernel "$FLOTILLA_KERNEL" --initrd "$FLOTILLA_INITRD"
  --cmdline "$FLOTILLA_CMDLINE" "${args[@]}")

kind_line=$("$GUEST_DIR/lab/lab.sh" kvm-kind)
echo "bench container-start: host KVM: $kind_line"
case "${kind_line%%:*}" in
  hardware)
    exec "${bench[@]}" ;;
  *)
    echo "bench container-start: this host's KVM cannot boot stock Linux guests; running inside the lab (figures comparable only to other lab figures)"
    # C1 only in the lab, as scripts/e2e.sh explains (QEMU's multi-threaded TCG mis-executes re-patched JIT code).
    lab_bench=("${bench[0]}" ${FLOTILLA_LAB_JIT--XX:TieredStopAtLevel=1} "${bench[@]:1}")
    exec "$GUEST_DIR/lab/lab.sh" run --timeout "${FLOTILLA_BENCH_TIMEOUT:-2400}" "${rw[@]}" -- "${lab_bench[@]}" ;;
esac
