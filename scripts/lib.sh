# Shared helpers for the scripts in this folder (sourced, not run).

# Exports FLOTILLA_KERNEL (vmlinux), FLOTILLA_BZIMAGE, FLOTILLA_INITRD and FLOTILLA_CMDLINE (the
# recommended guest command line) from the cached guest artifacts; fails if they are not built.
guest_paths() {
  local paths
  paths=$("$FLOTILLA_HOME/guest/build.sh" paths) || return 1
  FLOTILLA_KERNEL=$(sed -n 's/^vmlinux=//p' <<<"$paths")
  FLOTILLA_BZIMAGE=$(sed -n 's/^bzImage=//p' <<<"$paths")
  FLOTILLA_INITRD=$(sed -n 's/^initramfs=//p' <<<"$paths")
  FLOTILLA_CMDLINE=$(grep -v '^#' "$FLOTILLA_HOME/guest/kernel/cmdline" | tr '\n' ' ' | xargs)
  export FLOTILLA_KERNEL FLOTILLA_BZIMAGE FLOTILLA_INITRD FLOTILLA_CMDLINE
}

# One word for this host's KVM: hardware, pvm or none (then the reason).
kvm_kind_line() {
  "$FLOTILLA_HOME/guest/lab/lab.sh" kvm-kind
}
