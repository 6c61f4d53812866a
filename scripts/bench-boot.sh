#!/usr/bin/env bash
# `./flotilla bench boot [--runs N] [--process-runs N] [--vcpus V] [--memory MiB] [--cmdline C] [--json FILE]`:
# boots the project's guest kernel (vmlinux, PVH) and initramfs repeatedly with the Java VMM in one JVM
# and with QEMU -M microvm, and prints both with their ratio. Natively on hardware KVM; on any other host
# (PVM here) the whole benchmark re-launches itself inside the lab (a nested QEMU-TCG host with emulated
# AMD-V), so that both VMMs run in the same environment.
set -euo pipefail
cd "$FLOTILLA_HOME"

GUEST_DIR="${FLOTILLA_GUEST_DIR:-$FLOTILLA_HOME/guest}"
[[ -x "$GUEST_DIR/build.sh" ]] || { echo "bench boot: $GUEST_DIR/build.sh is missing (set FLOTILLA_GUEST_DIR)" >&2; exit 1; }
"$GUEST_DIR/build.sh" all >&2
paths=$("$GUEST_DIR/build.sh" paths)
vmlinux=$(sed -n 's/^vmlinux=//p' <<<"$paths")
initramfs=$(sed -n 's/^initramfs=//p' <<<"$paths")
[[ -f "$vmlinux" && -f "$initramfs" ]] || { echo "bench boot: guest artifacts not found in: $paths" >&2; exit 1; }

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
  dev.flotilla.vmm.cli.Main bench boot --kernel "$vmlinux" --initrd "$initramfs" "${args[@]}")

kind_line=$("$GUEST_DIR/lab/lab.sh" kvm-kind)
echo "bench boot: host KVM: $kind_line"
case "${kind_line%%:*}" in
  hardware)
    echo "bench boot: running natively"
    exec "${bench[@]}" ;;
  *)
    echo "bench boot: this host's KVM cannot boot stock Linux guests; re-launching the whole benchmark inside the lab"
    echo "bench boot: (nested QEMU-TCG host with emulated AMD-V: both VMMs run there, figures comparable only to each other)"
    exec "$GUEST_DIR/lab/lab.sh" run --timeout "${FLOTILLA_BENCH_TIMEOUT:-2400}" "${rw[@]}" -- "${bench[@]}" ;;
esac
