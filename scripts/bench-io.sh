#!/usr/bin/env bash
# `./flotilla bench io [--size-mib N] [--small-reads N] [--vsock-mib N] [--vcpus V] [--memory MiB] [--json FILE]`:
# block (dd O_DIRECT sequential 1 MiB write/read, 4 KiB reads as IOPS) and vsock (guest -> host echo
# stream) throughput of the project's guest under the Java VMM and under QEMU -M microvm with the same
# kernel, initramfs and backing file, with their ratios. Natively on hardware KVM; on any other host
# (PVM here) the whole benchmark re-launches itself inside the lab, like `bench boot`.
set -euo pipefail
cd "$FLOTILLA_HOME"

GUEST_DIR="${FLOTILLA_GUEST_DIR:-$FLOTILLA_HOME/guest}"
[[ -x "$GUEST_DIR/build.sh" ]] || { echo "bench io: $GUEST_DIR/build.sh is missing (set FLOTILLA_GUEST_DIR)" >&2; exit 1; }
"$GUEST_DIR/build.sh" all >&2
paths=$("$GUEST_DIR/build.sh" paths)
vmlinux=$(sed -n 's/^vmlinux=//p' <<<"$paths")
initramfs=$(sed -n 's/^initramfs=//p' <<<"$paths")
[[ -f "$vmlinux" && -f "$initramfs" ]] || { echo "bench io: guest artifacts not found in: $paths" >&2; exit 1; }

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
  dev.flotilla.vmm.cli.Main bench io --kernel "$vmlinux" --initrd "$initramfs" "${args[@]}")

kind_line=$("$GUEST_DIR/lab/lab.sh" kvm-kind)
echo "bench io: host KVM: $kind_line"
case "${kind_line%%:*}" in
  hardware)
    echo "bench io: running natively"
    exec "${bench[@]}" ;;
  *)
    echo "bench io: this host's KVM cannot boot stock Linux guests; re-launching the whole benchmark inside the lab"
    echo "bench io: (nested QEMU-TCG host with emulated AMD-V: both VMMs run there, figures comparable only to each other)"
    exec "$GUEST_DIR/lab/lab.sh" run --timeout "${FLOTILLA_BENCH_TIMEOUT:-2400}" "${rw[@]}" -- "${bench[@]}" ;;
esac
