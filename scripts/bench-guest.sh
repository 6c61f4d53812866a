#!/usr/bin/env bash
# `scripts/bench-guest.sh NAME ARGS...`: runs a benchmark that boots the project's Linux guest under
# the Java VMM and under QEMU -M microvm side by side (NAME = boot or io; see SPECIFICATION.md):
#   ./flotilla bench boot [--runs N] [--process-runs N] [--vcpus V] [--memory MiB] [--cmdline C] [--json FILE]
#   ./flotilla bench io [--size-mib N] [--small-reads N] [--vsock-mib N] [--vcpus V] [--memory MiB] [--rounds N] [--huge-pages on|off] [--packed on|off] [--qemu none] [--json FILE]
# Natively on hardware KVM; on any other host (PVM here) the whole benchmark re-launches itself inside
# the lab (a nested QEMU-TCG host with emulated AMD-V), so that both VMMs run in the same environment.
set -euo pipefail
cd "$FLOTILLA_HOME"
name="${1:?usage: bench-guest.sh boot|io ARGS...}"
shift

GUEST_DIR="$FLOTILLA_HOME/guest"
"$GUEST_DIR/build.sh" all >&2
source "$FLOTILLA_HOME/scripts/lib.sh"
guest_paths
vmlinux="$FLOTILLA_KERNEL"
initramfs="$FLOTILLA_INITRD"
[[ -f "$vmlinux" && -f "$initramfs" ]] || { echo "bench $name: guest artifacts not found (guest/build.sh paths)" >&2; exit 1; }

# The lab's root is read-only: the directory of a --json file is shared writable.
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

bench=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$FLOTILLA_HOME/vmm-engine/target/classes"
  dev.flotilla.vmm.cli.Main bench "$name" --kernel "$vmlinux" --initrd "$initramfs" "${args[@]}")

kind_line=$("$GUEST_DIR/lab/lab.sh" kvm-kind)
echo "bench $name: host KVM: $kind_line"
case "${kind_line%%:*}" in
  hardware)
    echo "bench $name: running natively"
    exec "${bench[@]}" ;;
  *)
    echo "bench $name: this host's KVM cannot boot stock Linux guests; re-launching the whole benchmark inside the lab"
    echo "bench $name: (nested QEMU-TCG host with emulated AMD-V: both VMMs run there, figures comparable only to each other)"
    # C1 only in the lab, as scripts/e2e.sh explains (QEMU's multi-threaded TCG mis-executes re-patched JIT code).
    lab_bench=("${bench[0]}" ${FLOTILLA_LAB_JIT--XX:TieredStopAtLevel=1} "${bench[@]:1}")
    exec "$GUEST_DIR/lab/lab.sh" run --timeout "${FLOTILLA_BENCH_TIMEOUT:-2400}" "${rw[@]}" -- "${lab_bench[@]}" ;;
esac
