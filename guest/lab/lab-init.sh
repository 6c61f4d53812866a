#!/bin/sh
# PID 1 of the lab (busybox sh, inside the lab initramfs built by lab.sh).
# Loads the modules, assembles the host's file system, runs the job in a chroot, reports its exit
# status into the control share and powers the lab off. Any failure is printed and ends the lab
# without a status, which lab.sh reports as a lab failure.
export PATH=/bin:/sbin

/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# ttyS0 carries the job's output to lab.sh's stdout; the kernel logs to ttyS1 (a file on the host)
# unless --verbose. ttyS0 must not turn \n into \r\n: the host gets the output byte for byte.
exec </dev/ttyS0 >/dev/ttyS0 2>&1
stty -onlcr 2>/dev/null

verbose=0
grep -qw lab.verbose=1 /proc/cmdline && verbose=1
say() { [ "$verbose" = 1 ] && echo "lab-init: $*"; }

fail() {
  echo "lab: $*" >&2
  sync
  poweroff -f
  sleep 10
}

for ko in /lib/lab-modules/*.ko; do
  name=${ko##*/}; name=${name#*-}; name=${name%.ko}
  if ! insmod "$ko"; then
    [ "$name" = overlay ] || fail "cannot load kernel module $name"
  fi
done
say "modules loaded"

# virtio devices probe asynchronously: wait until the 9p mount tags are visible.
have_tag() { cat /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag 2>/dev/null | tr '\0' '\n' | grep -qx "$1"; }
i=0
until have_tag hostroot && have_tag labctl; do
  i=$((i + 1))
  [ $i -gt 200 ] && fail "the 9p shares hostroot/labctl did not appear within 10 s"
  sleep 0.05
done

P9="trans=virtio,version=9p2000.L,msize=262144"
mount -t 9p -o "$P9" labctl /ctl || fail "cannot mount the control share"
mount -t 9p -o "$P9,ro" hostroot /host || fail "cannot mount the host's / over 9p"

# The host's / read-only, made writable by a throwaway tmpfs overlay (so HOME, the working
# directory and the like accept writes); plain read-only if overlayfs refuses 9p as lower layer.
mount -t tmpfs -o mode=0755 overlay-rw /overlay
mkdir -p /overlay/upper /overlay/work
OVERLAY=0
if mount -t overlay -o lowerdir=/host,upperdir=/overlay/upper,workdir=/overlay/work overlay /newroot 2>/dev/null; then
  say "root: host / + tmpfs overlay"
  OVERLAY=1
else
  echo "lab: overlayfs over 9p unavailable; the host's / is read-only inside the lab (use --rw for outputs)" >&2
  mount --bind /host /newroot || fail "cannot bind the host's /"
fi

R=/newroot
mount -t proc proc $R/proc || fail "cannot mount /proc in the chroot"
mount -t sysfs sysfs $R/sys || fail "cannot mount /sys in the chroot"
mount -t devtmpfs devtmpfs $R/dev || fail "cannot mount /dev in the chroot"
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
# With the overlay, /tmp stays the host's (read through, written to the tmpfs upper layer), so a
# checkout or working directory under the host's /tmp (as CI machines often use) is visible here.
if [ "$OVERLAY" = 0 ]; then
  mount -t tmpfs -o mode=1777 tmpfs $R/tmp || fail "cannot mount /tmp in the chroot"
fi
mount -t tmpfs -o mode=0755 tmpfs $R/run || fail "cannot mount /run in the chroot"
[ -e $R/dev/kvm ] || fail "/dev/kvm did not appear (kvm-amd failed to load?)"

while read -r tag dir; do
  [ -n "$tag" ] || continue
  have_tag "$tag" || fail "the 9p share $tag for $dir did not appear"
  mkdir -p "$R$dir" 2>/dev/null
  mount -t 9p -o "$P9" "$tag" "$R$dir" || fail "cannot mount $dir read-write"
  say "rw: $dir"
done </ctl/mounts

# Loopback up: suites start local servers (e.g. a container registry on 127.0.0.1).
ip link set lo up 2>/dev/null || chroot $R ip link set lo up 2>/dev/null || say "loopback could not be brought up"

mkdir -p $R/run/flotilla-lab
cp /ctl/job.sh $R/run/flotilla-lab/job.sh
say "running the job"
# A heartbeat for lab.sh: under QEMU's TCG the whole lab has been seen to freeze (both CPUs stuck running a
# nested guest, not even the kernel's watchdogs firing); lab.sh stops QEMU when this file goes stale.
( while :; do date +%s >/ctl/heartbeat; sleep 10; done ) &
heartbeat=$!
chroot $R /bin/bash /run/flotilla-lab/job.sh
status=$?
kill $heartbeat 2>/dev/null
say "job exited $status"

echo "$status" >/ctl/status.tmp && mv /ctl/status.tmp /ctl/status
sync
poweroff -f
