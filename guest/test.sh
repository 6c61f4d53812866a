#!/usr/bin/env bash
# Automated check of the guest artifacts and the lab. Prints one PASS/FAIL line per check and a
# closing "N passed, N failed" line; exits nonzero if anything failed.
#
#   guest/test.sh            all checks (the Linux-guest ones inside the lab when /dev/kvm is PVM,
#                            natively on a hardware-KVM host)
#   guest/test.sh in-lab ... internal: the checks that run inside the lab (or on a hardware host)
#
# (a) guest/build.sh all builds kernel + initramfs, the kernel config kept every fragment option,
#     and a second run with unchanged inputs is instant; init's own unit tests pass.
# (b) QEMU -M microvm,acpi=off -enable-kvm boots our kernel + initramfs to the init marker with 1
#     vCPU (bzImage) and 2 vCPUs (ELF vmlinux through PVH, virtio-blk over virtio-mmio, a command
#     through flotilla.run), and the init's reboot ends QEMU.
# (c) Temurin 25 `java -version` works in the lab, and a file written to the rw share is visible
#     on the host afterwards.
# (d) the exit status of a failing command propagates out of the lab; a timeout fails clearly.
set -uo pipefail

GUEST_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JAVA25="${FLOTILLA_TEST_JAVA:-/usr/lib/jvm/temurin-25-jdk-amd64/bin/java}"
GUEST_CMDLINE="console=ttyS0 reboot=k panic=1 tsc=reliable ipv6.disable=1 random.trust_cpu=on"

passed=0
failed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
check() { local name="$1"; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }

# Boots our kernel under QEMU microvm with KVM; prints the console; returns QEMU's status.
# Extra QEMU arguments follow the cmdline.
boot_guest() {
  local kernel="$1" initramfs="$2" smp="$3" cmdline="$4"; shift 4
  timeout --kill-after=5 180 qemu-system-x86_64 -M microvm,acpi=off -enable-kvm -cpu host \
    -m 256 -smp "$smp" -nodefaults -no-user-config -display none -no-reboot -serial stdio \
    -kernel "$kernel" -initrd "$initramfs" -append "$cmdline" "$@" </dev/null 2>&1
}

# boot_guest, booting again (up to 3 boots) when the guest was reset before its userspace started without a
# kernel panic: the nested-SVM triple fault the lab (KVM on QEMU TCG's emulated AMD-V) shows now and then, seen
# with QEMU as the VMM as much as with ours, even before the second vCPU starts. Any other failure counts.
boot_guest_in_lab() {
  local out rc boot
  for boot in 1 2 3; do
    out=$(boot_guest "$@"); rc=$?
    if ((rc == 0)) && ! grep -q 'flotilla-init: userspace up' <<<"$out" && ! grep -q 'Kernel panic' <<<"$out" && ((boot < 3)); then
      echo "$out" | tail -n 3 | sed 's/^/  reset before userspace| /' >&2
      echo "guest reset before userspace without a panic (the lab's nested triple fault): booting again ($((boot + 1)) of 3)" >&2
      continue
    fi
    break
  done
  printf '%s\n' "$out"
  return "$rc"
}

in_lab() {
  local results="$1" vmlinux="$2" bzimage="$3" initramfs="$4"
  local out start ms rc

  [[ -w /dev/kvm ]] && pass "lab: /dev/kvm is usable" || fail "lab: /dev/kvm is missing or not writable"

  start=$(date +%s%N)
  # With an i8042 the guest's reboot=k reset ends QEMU (-no-reboot) exactly as it ends a VM in
  # Flotilla's VMM (microvm has none by default).
  out=$(boot_guest_in_lab "$bzimage" "$initramfs" 1 "$GUEST_CMDLINE quiet flotilla.exit=reboot" -device i8042); rc=$?
  ms=$((($(date +%s%N) - start) / 1000000))
  echo "$out" | sed 's/^/  guest1| /'
  echo "TIMING guest boot to reboot, 1 vCPU, bzImage, quiet: ${ms} ms"
  check "guest: 1 vCPU (bzImage) reaches the init marker" grep -q 'flotilla-init: userspace up (1 cpus)' <<<"$out"
  check "guest: the boot timer write through /dev/mem works" bash -c '! grep -q "cannot signal the boot timer" <<<"$1"' _ "$out"
  check "guest: 1 vCPU reboot ends QEMU (status $rc)" test "$rc" -eq 0

  local disk=/tmp/flotilla-test-disk.img
  rm -f "$disk"; truncate -s 8M "$disk"
  start=$(date +%s%N)
  # microvm puts this virtio-mmio device on IRQ 12, where an i8042 would sit too: no i8042 here,
  # so the reboot is a triple fault (reboot=t, later on the line than reboot=k, wins).
  out=$(boot_guest_in_lab "$vmlinux" "$initramfs" 2 \
    "$GUEST_CMDLINE reboot=t flotilla.exit=reboot flotilla.run=\"echo vda-sectors=\$(cat /sys/block/vda/size); exit 5\"" \
    -drive "id=disk0,file=$disk,format=raw,if=none" -device virtio-blk-device,drive=disk0); rc=$?
  ms=$((($(date +%s%N) - start) / 1000000))
  echo "$out" | sed 's/^/  guest2| /'
  echo "TIMING guest boot + command + reboot, 2 vCPUs, vmlinux (PVH): ${ms} ms"
  check "guest: 2 vCPUs (vmlinux via PVH) reach the init marker" grep -q 'flotilla-init: userspace up (2 cpus)' <<<"$out"
  check "guest: virtio-blk over virtio-mmio from the command line is /dev/vda" grep -q 'vda-sectors=16384' <<<"$out"
  check "guest: flotilla.run reports the command's exit code" grep -q 'flotilla-init: command exited 5' <<<"$out"
  check "guest: 2 vCPU reboot ends QEMU (status $rc)" test "$rc" -eq 0
  rm -f "$disk"

  start=$(date +%s%N)
  out=$("$JAVA25" -version 2>&1); rc=$?
  ms=$((($(date +%s%N) - start) / 1000000))
  echo "$out" | sed 's/^/  java| /'
  echo "TIMING java -version in the lab: ${ms} ms"
  check "lab: Temurin 25 java -version works" bash -c '[[ $1 -eq 0 ]] && grep -q "version \"25" <<<"$2"' _ "$rc" "$out"

  echo "written-in-lab $(uname -r)" >"$results/from-lab.txt"
  echo "SUMMARY $passed passed, $failed failed"
  ((failed == 0))
}

host() {
  local start paths t
  # (a) build
  start=$SECONDS
  if paths=$("$GUEST_DIR/build.sh" all); then
    pass "build: guest/build.sh all ($((SECONDS - start)) s)"
  else
    fail "build: guest/build.sh all"
    echo "$passed passed, $failed failed"
    exit 1
  fi
  local vmlinux bzimage initramfs kconfig
  vmlinux=$(sed -n 's/^vmlinux=//p' <<<"$paths")
  bzimage=$(sed -n 's/^bzImage=//p' <<<"$paths")
  initramfs=$(sed -n 's/^initramfs=//p' <<<"$paths")
  kconfig=$(sed -n 's/^kernel_config=//p' <<<"$paths")
  check "build: vmlinux is an ELF with a PVH note" bash -c 'readelf -n "$1" 2>/dev/null | grep -q "Xen.*0x00000012"' _ "$vmlinux"
  check "build: bzImage has the boot protocol header" bash -c '[[ "$(dd if="$1" bs=1 skip=514 count=4 2>/dev/null)" == HdrS ]]' _ "$bzimage"
  local broken; broken=$(mktemp)
  grep -v '^CONFIG_PVH=' "$kconfig" >"$broken"
  check "build: the built config has every fragment option" "$GUEST_DIR/build.sh" check-config "$kconfig"
  check "build: a config that lost an option (PVH) is rejected naming it" bash -c \
    '! out=$("$1" check-config "$2" 2>&1) && grep -q "CONFIG_PVH: wanted y, got <not set>" <<<"$out"' _ "$GUEST_DIR/build.sh" "$broken"
  check "build: initramfs holds the guest agent (static, under 2 MiB)" bash -c \
    'd=$(mktemp -d); cd "$d" && zcat "$1" | cpio -id bin/flotilla-agent 2>/dev/null; s=$(stat -c %s bin/flotilla-agent 2>/dev/null || echo 0);
     file bin/flotilla-agent | grep -q "statically linked"; r=$?; rm -rf "$d"; ((r == 0 && s > 0 && s < 2097152))' _ "$initramfs"
  rm -f "$broken"
  check "build: kernel config has no modules, PCI or ACPI" bash -c '! grep -qE "^CONFIG_(MODULES|PCI|ACPI)=y" "$1"' _ "$kconfig"
  check "build: initramfs holds /init, busybox and /dev/console" bash -c \
    'l=$(zcat "$1" | cpio -it 2>/dev/null); grep -qx init <<<"$l" && grep -qx bin/busybox <<<"$l" && grep -qx dev/console <<<"$l"' _ "$initramfs"
  t=$(date +%s%N)
  "$GUEST_DIR/build.sh" all >/dev/null 2>&1
  t=$((($(date +%s%N) - t) / 1000000))
  check "build: second run with unchanged inputs is instant (${t} ms)" test "$t" -lt 3000

  local unit; unit=$(mktemp)
  if gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$unit" "$GUEST_DIR/init/test_cmdline.c" \
      "$GUEST_DIR/init/cmdline.c" "$GUEST_DIR/init/platform.c" "$GUEST_DIR/init/log.c"; then
    local line
    while IFS= read -r line; do
      case "$line" in PASS*) pass "${line#PASS }" ;; FAIL*) fail "${line#FAIL }" ;; esac
    done < <("$unit")
  else
    fail "init: unit tests compile"
  fi
  rm -f "$unit"

  # The agent's unit tests, under AddressSanitizer/UBSan: its decoder and framing get random and
  # mutated input, and a memory error must fail the run, not pass silently.
  local gen; gen=$(mktemp -d)
  unit=$(mktemp)
  if "$GUEST_DIR/build.sh" agent-protocol "$gen" &&
     gcc -std=c11 -D_GNU_SOURCE -DPB_ENABLE_MALLOC=1 -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=all \
       -I "$gen" -I "$GUEST_DIR/agent" -o "$unit" "$GUEST_DIR/agent/test_agent.c" "$GUEST_DIR/agent/frame.c" \
       "$GUEST_DIR/agent/util.c" "$GUEST_DIR/agent/cgroup.c" "$gen/agent.pb.c" /usr/lib/x86_64-linux-gnu/libprotobuf-nanopb.a; then
    local out rc
    out=$("$unit" 2>&1); rc=$?
    while IFS= read -r line; do
      case "$line" in PASS*) pass "${line#PASS }" ;; FAIL*) fail "${line#FAIL }" ;; esac
    done <<<"$out"
    check "agent: unit tests ran to the end (exit status $rc)" test "$rc" -eq 0
    ((rc == 0)) || echo "$out" | grep -v '^PASS' | head -20
  else
    fail "agent: unit tests compile"
  fi
  rm -rf "$gen" "$unit"

  # (b) + (c): natively on a hardware-KVM host, else inside the lab.
  local kind; kind=$("$GUEST_DIR/lab/lab.sh" kvm-kind)
  echo "host KVM: $kind"
  local results; results=$(mktemp -d "${TMPDIR:-/tmp}/flotilla-guest-test.XXXXXX")
  local log="$results/lab-output.txt"
  start=$SECONDS
  # The emulated lab host's own kernel breaks now and then (lab.sh exits 123: an Oops, a lasting soft lockup or a
  # freeze; never the checks' doing, see scripts/e2e.sh). Then boot a fresh lab, up to FLOTILLA_GUEST_LAB_ATTEMPTS
  # in all; a failing check is never retried.
  local rc attempt=1 attempts=${FLOTILLA_GUEST_LAB_ATTEMPTS:-3}
  while :; do
    case "$kind" in
      hardware*) "$0" in-lab "$results" "$vmlinux" "$bzimage" "$initramfs" >"$log" 2>&1 ;;
      *) "$GUEST_DIR/lab/lab.sh" run --rw "$results" --timeout 600 -- \
           "$0" in-lab "$results" "$vmlinux" "$bzimage" "$initramfs" >"$log" 2>&1 ;;
    esac
    rc=$?
    ((rc == 123 && attempt < attempts)) || break
    sed "s/^/  lab| /" "$log"
    attempt=$((attempt + 1))
    echo "lab: the lab's own kernel crashed, locked up or froze (not a check failure): running the checks again in a fresh lab ($attempt of $attempts)"
    rm -f "$results/from-lab.txt"
  done
  sed "s/^/  lab| /" "$log"
  echo "TIMING lab round trip (boot, checks, poweroff): $((SECONDS - start)) s"
  # Count the checks that ran in there; a lab that died early is a failure, not a silent skip.
  local line
  while IFS= read -r line; do
    case "$line" in PASS*) pass "${line#PASS }" ;; FAIL*) fail "${line#FAIL }" ;; esac
  done <"$log"
  check "lab: all in-lab checks ran and passed (exit status $rc)" bash -c '[[ $1 -eq 0 ]] && grep -q "^SUMMARY .* 0 failed" "$2"' _ "$rc" "$log"
  check "lab: a file written to the rw share is visible on the host" grep -q '^written-in-lab ' "$results/from-lab.txt"

  # (d) exit status and timeout
  if [[ "$kind" != hardware* ]]; then
    start=$SECONDS
    for ((attempt = 1; attempt <= attempts; attempt++)); do   # 123: the lab itself broke (see above), try a fresh one
      "$GUEST_DIR/lab/lab.sh" run --timeout 300 -- sh -c 'echo failing on purpose; exit 7'
      rc=$?
      ((rc == 123)) || break
    done
    echo "TIMING lab round trip for a trivial command: $((SECONDS - start)) s"
    check "lab: a failing command's exit status (7) propagates (got $rc)" test "$rc" -eq 7
    local msg
    msg=$("$GUEST_DIR/lab/lab.sh" run --timeout 3 -- sleep 600 2>&1); rc=$?
    check "lab: a timeout kills QEMU and fails clearly (got $rc)" bash -c '[[ $1 -eq 124 ]] && grep -q "timed out after 3 s" <<<"$2"' _ "$rc" "$msg"
  fi
  rm -rf "$results"

  echo "$passed passed, $failed failed"
  ((failed == 0))
}

case "${1:-}" in
  in-lab) shift; in_lab "$@" ;;
  "") host ;;
  *) echo "usage: guest/test.sh" >&2; exit 2 ;;
esac
