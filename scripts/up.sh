#!/usr/bin/env bash
# `./flotilla up`: builds the guest artifacts and boots a demo microVM to its init with the Java VMM,
# printing the serial console, the boot time and the exit reason. Natively on hardware KVM; inside
# the lab (nested QEMU-TCG host with emulated AMD-V) where this host's KVM cannot run Linux guests.
set -euo pipefail
cd "$FLOTILLA_HOME"

"$FLOTILLA_HOME/guest/build.sh" all
source "$FLOTILLA_HOME/scripts/lib.sh"
guest_paths

VCPUS="${FLOTILLA_DEMO_VCPUS:-2}"
MEMORY="${FLOTILLA_DEMO_MEMORY:-256}"
CMDLINE="$FLOTILLA_CMDLINE flotilla.exit=reboot"

vm_run=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$FLOTILLA_HOME/vmm-engine/target/classes"
  dev.flotilla.vmm.cli.Main vm run --kernel "$FLOTILLA_KERNEL" --initrd "$FLOTILLA_INITRD"
  --cmdline "$CMDLINE" --vcpus "$VCPUS" --memory "$MEMORY")

kind_line=$("$FLOTILLA_HOME/guest/lab/lab.sh" kvm-kind)
echo "flotilla up: host KVM: $kind_line"
case "${kind_line%%[: ]*}" in
  hardware)
    echo "flotilla up: booting the demo microVM natively ($VCPUS vCPUs, $MEMORY MiB)"
    "${vm_run[@]}" ;;
  *)
    echo "flotilla up: this host cannot run stock Linux guests natively; booting the demo microVM inside the lab"
    echo "flotilla up: (a nested host under QEMU TCG with emulated AMD-V: slow, but the same kernel, initramfs and VMM)"
    "$FLOTILLA_HOME/guest/lab/lab.sh" run --timeout 600 -- "${vm_run[@]}" ;;
esac
