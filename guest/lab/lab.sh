#!/usr/bin/env bash
# The lab: runs a command inside a throwaway nested host whose /dev/kvm runs stock Linux guests.
#
#   guest/lab/lab.sh run [--mem MiB] [--smp N] [--rw DIR]... [--env NAME]... [--timeout SEC] [--verbose] -- CMD ARGS...
#   guest/lab/lab.sh kvm-kind     print hardware|pvm|none for this host, with a one-line reason
#   guest/lab/lab.sh prepare      fetch the lab kernel and build the lab initramfs (cached), print paths
#
# `run` boots Debian's stock kernel under QEMU TCG with an emulated AMD-V CPU. Its init loads
# virtio/9p/kvm/kvm-amd, mounts this host's / read-only over 9p (made writable with a throwaway
# tmpfs overlay), each --rw DIR read-write at the same absolute path, fresh /proc /sys /dev (with
# /dev/kvm) /tmp /run, then runs CMD in the current directory with PATH, HOME, JAVA_HOME, LANG,
# FLOTILLA_* and each --env NAME passed through, and FLOTILLA_IN_LAB=1. CMD's output is streamed
# to stdout (stdout and stderr merged, through the lab's serial console); lab.sh exits with CMD's
# exit status, 124 on timeout, 125 if the lab itself failed, 123 if the lab's own kernel crashed (an
# Oops, panic or lasting soft lockup of the emulated host: seen now and then under QEMU's TCG, never caused by
# the job; callers may boot a fresh lab and run the job again). FLOTILLA_LAB_TCG=single runs all lab CPUs on one host thread
# (QEMU -accel tcg,thread=single; default multi): slower, but no vCPU can see code another one is patching.
set -euo pipefail

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GUEST_DIR="$(dirname "$LAB_DIR")"
CACHE="${FLOTILLA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flotilla}"
LAB_CACHE="$CACHE/lab"
BUSYBOX="${FLOTILLA_BUSYBOX:-/bin/busybox}"
QEMU="${FLOTILLA_QEMU:-qemu-system-x86_64}"

# Debian kernel modules the lab init loads, in dependency order (no modprobe, no depmod).
# tun: /dev/net/tun for the virtio-net suites' taps.
# vhost_iotlb..vhost_vsock: /dev/vhost-vsock for QEMU's vhost-vsock-device (bench io compares against it).
# crc32c_generic..bridge: the node agent's sandbox network (a bridge, an nftables table; NodeAgentE2E).
# libcrc32c needs a crc32c before it (there is no modprobe to fetch one).
# veth..act_mirred: CNI pod networks (the bridge plugin's veth pairs; a pod VM's tap tied to eth0 by tc redirect).
LAB_MODULES=(irqbypass virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
  netfs fscache 9pnet 9pnet_virtio 9p kvm ccp kvm-amd overlay tun
  vhost_iotlb vhost vsock vmw_vsock_virtio_transport_common vhost_vsock
  crc32c_generic libcrc32c nfnetlink nf_tables llc stp bridge
  veth sch_ingress cls_u32 act_mirred)

log() { echo "lab: $*" >&2; }
die() { echo "lab: error: $*" >&2; exit 125; }

# ---------------------------------------------------------------------------------------------
# kvm-kind
# ---------------------------------------------------------------------------------------------

kvm_kind() {
  if [[ ! -e /dev/kvm ]]; then
    echo "none: /dev/kvm does not exist (no KVM module loaded, or no virtualization in this machine)"
  elif [[ ! -r /dev/kvm || ! -w /dev/kvm ]]; then
    echo "none: /dev/kvm exists but is not readable and writable by $(id -un)"
  elif [[ -d /sys/module/kvm_pvm ]]; then
    echo "pvm: /dev/kvm is served by kvm_pvm (no vmx/svm in this CPU); stock Linux guests run only in the lab"
  elif [[ -d /sys/module/kvm_intel ]] && grep -qw vmx /proc/cpuinfo; then
    echo "hardware: /dev/kvm is served by kvm_intel on a CPU with VT-x"
  elif [[ -d /sys/module/kvm_amd ]] && grep -qw svm /proc/cpuinfo; then
    echo "hardware: /dev/kvm is served by kvm_amd on a CPU with AMD-V"
  else
    echo "none: /dev/kvm exists but neither kvm_intel/kvm_amd with vmx/svm nor kvm_pvm is loaded"
  fi
}

# ---------------------------------------------------------------------------------------------
# The lab kernel: Debian's stock linux-image, unpacked (never installed) into the cache.
# ---------------------------------------------------------------------------------------------

lab_kernel_package() {
  local pkg
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)
  if [[ -z "$pkg" ]]; then
    log "apt knows no linux-image-amd64; running apt-get update"
    apt-get update -qq >&2 || true
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)
  fi
  [[ -n "$pkg" ]] || die "cannot resolve Debian's linux-image-amd64 to a kernel package (is apt configured?)"
  echo "$pkg"
}

# Sets LAB_KERNEL_DIR to a complete $LAB_CACHE/kernel/<package>-<module list hash> (vmlinuz + modules/NN-name.ko).
# One directory per module list: checkouts with different lists share the cache without unpacking over each other.
ensure_lab_kernel() {
  local existing
  # Reuse the newest complete kernel already in the cache unpacked for this module list (modules.list records
  # it): no apt look-up on the hot path.
  if [[ -z "${FLOTILLA_LAB_REFRESH:-}" ]]; then
    for existing in $(ls -d "$LAB_CACHE"/kernel/linux-image-*/.complete 2>/dev/null | sort -Vr); do
      if [[ "$(cat "$(dirname "$existing")/modules.list" 2>/dev/null)" == "${LAB_MODULES[*]}" ]]; then
        LAB_KERNEL_DIR=$(dirname "$existing")
        return 0
      fi
    done
  fi
  local pkg; pkg=$(lab_kernel_package)
  LAB_KERNEL_DIR="$LAB_CACHE/kernel/$pkg-$(echo "${LAB_MODULES[*]}" | sha256sum | cut -c1-8)"
  [[ -f "$LAB_KERNEL_DIR/.complete" && "$(cat "$LAB_KERNEL_DIR/modules.list" 2>/dev/null)" == "${LAB_MODULES[*]}" ]] &&
    return 0
  local tmp="$LAB_KERNEL_DIR.tmp-$$"
  rm -rf "$tmp"; mkdir -p "$tmp/deb" "$tmp/modules"
  log "fetching $pkg (apt-get download + dpkg-deb -x, not installed)"
  (cd "$tmp/deb" && apt-get download "$pkg" >&2 2>/dev/null) || (cd "$tmp/deb" && apt-get download "$pkg" >&2) ||
    die "apt-get download $pkg failed"
  dpkg-deb -x "$tmp"/deb/*.deb "$tmp/root"
  local vmlinuz; vmlinuz=$(ls "$tmp"/root/boot/vmlinuz-* | head -1)
  [[ -f "$vmlinuz" ]] || die "$pkg contains no /boot/vmlinuz-*"
  cp "$vmlinuz" "$tmp/vmlinuz"
  local moddir; moddir=$(ls -d "$tmp"/root/lib/modules/*/ | head -1)
  local i=10 m f
  for m in "${LAB_MODULES[@]}"; do
    f=$(find "$moddir" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" -o -name "$m.ko.gz" | head -1)
    if [[ -z "$f" ]]; then
      grep -q "/$m.ko" "$moddir/modules.builtin" 2>/dev/null && { i=$((i + 1)); continue; }
      die "module $m is neither in $pkg nor built into its kernel"
    fi
    # busybox insmod loads plain ELF objects only: decompress here, once.
    case "$f" in
      *.xz) xz -dc "$f" ;;
      *.zst) zstd -qdc "$f" ;;
      *.gz) gzip -dc "$f" ;;
      *) cat "$f" ;;
    esac >"$tmp/modules/$i-$m.ko"
    i=$((i + 1))
  done
  rm -rf "$tmp/deb" "$tmp/root"
  echo "$pkg" >"$tmp/package"
  echo "${LAB_MODULES[*]}" >"$tmp/modules.list"
  touch "$tmp/.complete"
  rm -rf "$LAB_KERNEL_DIR"
  mv -T "$tmp" "$LAB_KERNEL_DIR"
}

# ---------------------------------------------------------------------------------------------
# The lab initramfs: busybox + lab-init.sh + the modules.
# ---------------------------------------------------------------------------------------------

ensure_lab_initramfs() {
  [[ -x "$BUSYBOX" ]] || die "$BUSYBOX not found (install the Debian package busybox-static)"
  local hash
  hash=$({ basename "$LAB_KERNEL_DIR"; cat "$LAB_DIR/lab-init.sh" "$LAB_DIR/lab.sh"; sha256sum <"$BUSYBOX"; } | sha256sum | cut -c1-16)
  LAB_INITRAMFS_DIR="$LAB_CACHE/initramfs/$hash"
  [[ -f "$LAB_INITRAMFS_DIR/.complete" ]] && return 0
  local gen; gen=$("$GUEST_DIR/build.sh" gen-init-cpio)
  local tmp="$LAB_INITRAMFS_DIR.tmp-$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  {
    local d
    for d in /bin /sbin /dev /proc /sys /tmp /lib /lib/lab-modules /host /newroot /ctl /overlay; do
      echo "dir $d 755 0 0"
    done
    echo "nod /dev/console 600 0 0 c 5 1"
    echo "nod /dev/null 666 0 0 c 1 3"
    echo "file /init $LAB_DIR/lab-init.sh 755 0 0"
    echo "file /bin/busybox $BUSYBOX 755 0 0"
    echo "slink /bin/sh /bin/busybox 777 0 0"
    local ko
    for ko in "$LAB_KERNEL_DIR"/modules/*.ko; do
      echo "file /lib/lab-modules/$(basename "$ko") $ko 644 0 0"
    done
  } >"$tmp/initramfs.list"
  "$gen" "$tmp/initramfs.list" | gzip -1n >"$tmp/initramfs.cpio.gz"
  touch "$tmp/.complete"
  rm -rf "$LAB_INITRAMFS_DIR"
  mv -T "$tmp" "$LAB_INITRAMFS_DIR"
}

prepare() {
  command -v "$QEMU" >/dev/null || die "$QEMU not found (install the Debian package qemu-system-x86)"
  mkdir -p "$LAB_CACHE"
  exec {lock_fd}>"$LAB_CACHE/.lock"
  flock "$lock_fd"
  ensure_lab_kernel
  ensure_lab_initramfs
  flock -u "$lock_fd"
  exec {lock_fd}>&-
}

# ---------------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------------

run() {
  local mem=3072 smp=2 timeout=600 verbose=0 rw=() envs=()
  while (($#)); do
    case "$1" in --mem | --smp | --rw | --env | --timeout) (($# >= 2)) || die "$1 needs a value" ;; esac
    case "$1" in
      --mem) mem="$2"; shift 2 ;;
      --smp) smp="$2"; shift 2 ;;
      --rw) rw+=("$2"); shift 2 ;;
      --env) envs+=("$2"); shift 2 ;;
      --timeout) timeout="$2"; shift 2 ;;
      --verbose) verbose=1; shift ;;
      --) shift; break ;;
      *) die "unknown option '$1' (usage: lab.sh run [--mem MiB] [--smp N] [--rw DIR]... [--env NAME]... [--timeout SEC] [--verbose] -- CMD ARGS...)" ;;
    esac
  done
  (($#)) || die "no command given (usage: lab.sh run [options] -- CMD ARGS...)"
  [[ "$mem" =~ ^[1-9][0-9]*$ && "$smp" =~ ^[1-9][0-9]*$ && "$timeout" =~ ^[1-9][0-9]*$ ]] ||
    die "--mem, --smp and --timeout take positive integers"
  local dir
  for dir in "${rw[@]}"; do [[ -d "$dir" ]] || die "--rw $dir is not a directory"; done

  prepare

  local ctl; ctl=$(mktemp -d "${TMPDIR:-/tmp}/flotilla-lab.XXXXXX")
  trap 'rm -rf "$ctl"' EXIT

  # The job: a bash script run inside the chroot, every value quoted with printf %q.
  {
    echo "#!/bin/bash"
    local name
    for name in PATH HOME JAVA_HOME LANG LC_ALL TZ "${envs[@]}" $(compgen -e | grep '^FLOTILLA_' || true); do
      [[ -n "${!name+x}" ]] && printf 'export %s=%q\n' "$name" "${!name}"
    done
    echo "export FLOTILLA_IN_LAB=1"
    printf 'cd %q || { echo "lab: cannot enter %s inside the lab" >&2; exit 125; }\n' "$PWD" "$PWD"
    printf 'exec'
    printf ' %q' "$@"
    echo
  } >"$ctl/job.sh"

  local virtfs=(-virtfs "local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap"
    -virtfs "local,path=$ctl,mount_tag=labctl,security_model=passthrough")
  local i=0
  : >"$ctl/mounts"
  for dir in "${rw[@]}"; do
    [[ -d "$dir" ]] || die "--rw $dir is not a directory"
    dir=$(cd "$dir" && pwd -P)
    virtfs+=(-virtfs "local,path=$dir,mount_tag=rw$i,security_model=passthrough")
    echo "rw$i $dir" >>"$ctl/mounts"
    i=$((i + 1))
  done

  # The job's output has ttyS0 to itself; the kernel logs to ttyS1, kept in a file for diagnosis.
  local append="panic=-1 rdinit=/init nokaslr mitigations=off"
  ((verbose)) && append+=" console=ttyS0 loglevel=7 lab.verbose=1" || append+=" console=ttyS1"

  # One lab at a time: each one keeps both cores of a small host busy emulating, so a second one
  # would only make both slower (and their timings meaningless). Set FLOTILLA_LAB_LOCK to change the file.
  exec 8>"${FLOTILLA_LAB_LOCK:-/tmp/flotilla-lab.lock}"
  if ! flock -n 8; then
    log "another lab run holds ${FLOTILLA_LAB_LOCK:-/tmp/flotilla-lab.lock}; waiting for it to finish"
    flock 8
  fi

  local start=$SECONDS rc=0
  # A lab kernel that reports a CPU stuck for a minute does not recover: under QEMU's TCG, the lab's KVM has been
  # seen spinning in KVM_RUN (injecting a nested guest's LAPIC timer, soft lockups on both CPUs) for the rest of
  # the run. Waiting for --timeout would only waste it: stop QEMU and report the lab crashed (123).
  # Nor does a lab whose init stopped beating (lab-init.sh touches $ctl/heartbeat every 10 s): the whole lab has
  # been seen frozen with nothing in its log, both CPUs stuck running a nested guest.
  (
    exec 8>&- # not the lab lock: a sleep of this watcher would hold it past lab.sh's exit
    while sleep 5 && kill -0 $$ 2>/dev/null; do
      local why=""
      if grep -qE 'soft lockup - CPU#[0-9]+ stuck for ([5-9][0-9]|[0-9]{3,})s' "$ctl/kernel.log" 2>/dev/null; then
        why="a CPU stuck in its kernel for over a minute (soft lockup)"
      elif [[ -e "$ctl/heartbeat" ]] && (($(date +%s) - $(stat -c %Y "$ctl/heartbeat") > ${FLOTILLA_LAB_HEARTBEAT_TIMEOUT:-120})); then
        why="no heartbeat from its init for over ${FLOTILLA_LAB_HEARTBEAT_TIMEOUT:-120} s (frozen)"
      fi
      if [[ -n "$why" ]]; then
        echo "$why" >"$ctl/lockup"
        pkill -f -- "-serial file:$ctl/kernel.log" || true
        exit 0
      fi
    done
  ) &
  local watcher=$!
  timeout --kill-after=10 "$timeout" "$QEMU" \
    -accel "tcg,thread=${FLOTILLA_LAB_TCG:-multi}" -cpu EPYC,+svm -smp "$smp" -m "$mem" \
    -nodefaults -no-user-config -display none -no-reboot \
    -serial stdio -serial "file:$ctl/kernel.log" -monitor none \
    -kernel "$LAB_KERNEL_DIR/vmlinuz" -initrd "$LAB_INITRAMFS_DIR/initramfs.cpio.gz" \
    -append "$append" "${virtfs[@]}" </dev/null \
    2> >(grep --line-buffered -v "TCG doesn't support requested feature" >&2) || rc=$?
  kill "$watcher" 2>/dev/null || true

  if [[ -e "$ctl/lockup" ]]; then
    echo "lab: error: the lab's own kernel locked up ($(<"$ctl/lockup")) before '$*' finished; its log:" >&2
    { grep -m 4 -E 'soft lockup|RIP: 0010|kvm_arch_vcpu_ioctl_run' "$ctl/kernel.log" || tail -n 5 "$ctl/kernel.log"; } |
      sed 's/^/lab:   /' >&2 || true
    exit 123
  fi

  if ((rc == 124 || rc == 137)); then
    echo "lab: timed out after ${timeout} s: QEMU was killed before '$*' finished" >&2
    exit 124
  fi
  ((rc == 0)) || die "QEMU failed with exit status $rc (see its messages above)"
  if [[ ! -s "$ctl/status" ]]; then
    if [[ -s "$ctl/kernel.log" ]]; then
      echo "lab: last lines of the lab kernel's log:" >&2
      tail -n 15 "$ctl/kernel.log" | sed 's/^/lab:   /' >&2
      if grep -qE 'Kernel panic|Oops:|BUG: ' "$ctl/kernel.log"; then
        echo "lab: error: the lab's own kernel crashed (above) before '$*' finished" >&2
        exit 123
      fi
    fi
    die "the lab ended without reporting the command's exit status (it failed to start or crashed; rerun with --verbose)"
  fi
  local status; status=$(<"$ctl/status")
  [[ "$status" =~ ^[0-9]+$ ]] || die "the lab reported a malformed exit status '$status'"
  ((verbose)) && log "lab round trip $((SECONDS - start)) s, command exit status $status"
  exit "$status"
}

case "${1:-}" in
  kvm-kind) shift; kvm_kind ;;
  prepare) shift; prepare; echo "lab_kernel=$LAB_KERNEL_DIR/vmlinuz"; echo "lab_initramfs=$LAB_INITRAMFS_DIR/initramfs.cpio.gz" ;;
  run) shift; run "$@" ;;
  *) sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
