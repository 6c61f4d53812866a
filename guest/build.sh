#!/usr/bin/env bash
# Builds Flotilla's guest artifacts into a cache outside the checkout.
#
#   guest/build.sh kernel      vmlinux + bzImage from Debian's linux-source-6.1 + kernel/flotilla.config
#   guest/build.sh initramfs   gzip'd newc cpio: our init as /init, the agent as /bin/flotilla-agent, busybox-static,
#                              tools/*.c as /bin/NAME, /dev/console, /dev/null
#   guest/build.sh all         both
#   guest/build.sh paths       print the artifact paths for the current inputs (fails if not built)
#   guest/build.sh check-config F   check that kernel config F has every option the fragment sets
#
# Prints `name=path` lines on stdout (vmlinux, bzImage, kernel_config, initramfs); logs go to stderr.
# Every artifact lives in a directory named by a hash of all its inputs, written under a temporary
# name and renamed into place only when complete, so a half-written entry is never trusted and a
# second run with unchanged inputs does no work.
set -euo pipefail

GUEST_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${FLOTILLA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flotilla}"
SOURCE_TARBALL="${FLOTILLA_KERNEL_TARBALL:-/usr/src/linux-source-6.1.tar.xz}"
SOURCE_PACKAGE=linux-source-6.1
FRAGMENT="$GUEST_DIR/kernel/flotilla.config"
INIT_DIR="$GUEST_DIR/init"
TOOLS_DIR="$GUEST_DIR/tools"
AGENT_DIR="$GUEST_DIR/agent"
# nanopb's runtime as Debian builds it (libnanopb-dev): plain C using only memcpy/memset/malloc,
# so the static library links into a musl binary as is. Its build defines PB_ENABLE_MALLOC (it has
# pb_release) and not PB_FIELD_32BIT; the generated code must be compiled to match.
NANOPB_LIB="${FLOTILLA_NANOPB_LIB:-/usr/lib/x86_64-linux-gnu/libprotobuf-nanopb.a}"
NANOPB_CFLAGS=(-DPB_ENABLE_MALLOC=1)
BUSYBOX="${FLOTILLA_BUSYBOX:-/bin/busybox}"

log() { echo "guest/build: $*" >&2; }
die() { echo "guest/build: error: $*" >&2; exit 1; }

need() {
  local missing=() t
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  ((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (Debian packages: build-essential flex bison bc libelf-dev libssl-dev cpio musl-tools busybox-static)"
}

hash_of() { sha256sum | cut -c1-16; }

# The source package version identifies the tarball; size and mtime catch a locally replaced one.
source_version() {
  [[ -r "$SOURCE_TARBALL" ]] || die "kernel source $SOURCE_TARBALL not found (install the Debian package $SOURCE_PACKAGE)"
  local v
  v=$(dpkg-query -W -f='${Version}' "$SOURCE_PACKAGE" 2>/dev/null || echo unknown)
  echo "$v-$(stat -c '%s-%Y' "$SOURCE_TARBALL")"
}

# Runs "$@" while holding an exclusive lock on $1 (a lock file), so that concurrent builds of the
# same artifact wait for each other instead of racing.
with_lock() {
  local lock="$1" lock_fd; shift
  mkdir -p "$(dirname "$lock")"
  exec {lock_fd}>"$lock"
  flock "$lock_fd"
  "$@"
  local rc=$?
  flock -u "$lock_fd"
  exec {lock_fd}>&-
  return $rc
}

# Extracts the kernel source once per source version into $CACHE/src/<version>/linux-source-6.1.
ensure_source() {
  local ver; ver=$(source_version)
  SRC_ROOT="$CACHE/src/$ver"
  SRC="$SRC_ROOT/linux-source-6.1"
  [[ -f "$SRC_ROOT/.complete" ]] && return 0
  with_lock "$CACHE/src/.lock" extract_source "$ver"
}

extract_source() {
  [[ -f "$SRC_ROOT/.complete" ]] && return 0
  need tar xz
  local tmp="$CACHE/src/.tmp-$1-$$"
  rm -rf "$tmp" "$SRC_ROOT"
  mkdir -p "$tmp"
  log "extracting $SOURCE_TARBALL (once per source version)"
  tar -xJf "$SOURCE_TARBALL" -C "$tmp"
  [[ -f "$tmp/linux-source-6.1/Makefile" ]] || die "$SOURCE_TARBALL did not unpack to linux-source-6.1/"
  touch "$tmp/.complete"
  mv -T "$tmp" "$SRC_ROOT"
}

# ---------------------------------------------------------------------------------------------
# Kernel
# ---------------------------------------------------------------------------------------------

# The recipe part of the hash is the text of the functions that produce the artifact (declare -f),
# so editing an unrelated part of this script does not invalidate a 4-minute kernel build.
kernel_hash() {
  { source_version; cat "$FRAGMENT"; declare -f build_kernel_locked verify_config extract_source
    gcc --version | head -1; } | hash_of
}

kernel_dir() { echo "$CACHE/kernel/$(kernel_hash)"; }

# Checks that every option the fragment sets ended up in .config with that value; merge_config.sh
# only warns when Kconfig drops an option whose dependencies are missing.
verify_config() {
  local config="$1" bad=() line opt want have
  while IFS= read -r line; do
    if [[ "$line" =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
      opt="${BASH_REMATCH[1]}"; want="${BASH_REMATCH[2]}"
      have=$(grep -E "^$opt=" "$config" | head -1 | cut -d= -f2- || true)
      [[ "$have" == "$want" ]] || bad+=("$opt: wanted $want, got ${have:-<not set>}")
    elif [[ "$line" =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set ]]; then
      opt="${BASH_REMATCH[1]}"
      if grep -qE "^$opt=" "$config"; then
        bad+=("$opt: wanted not set, got $(grep -E "^$opt=" "$config" | cut -d= -f2-)")
      fi
    fi
  done <"$FRAGMENT"
  if ((${#bad[@]})); then
    printf '  %s\n' "${bad[@]}" >&2
    die "the kernel config fragment $FRAGMENT did not apply: ${#bad[@]} option(s) above were dropped or changed by Kconfig (missing dependencies?)"
  fi
}

build_kernel() {
  local out; out=$(kernel_dir)
  [[ -f "$out/.complete" ]] && return 0
  with_lock "$CACHE/kernel/.lock" build_kernel_locked "$out"
}

build_kernel_locked() {
  local out="$1"
  [[ -f "$out/.complete" ]] && return 0
  need make gcc flex bison bc perl
  ensure_source
  # One object tree per source version: a changed fragment rebuilds incrementally. Outputs are only
  # copied out (and then trusted) after make succeeded.
  local obj="$CACHE/kernel/obj-$(source_version)"
  mkdir -p "$obj"
  local mk=(make -C "$SRC" O="$obj" ARCH=x86_64 -s)
  log "configuring kernel: tinyconfig + $(basename "$FRAGMENT")"
  "${mk[@]}" tinyconfig >/dev/null
  (cd "$obj" && ARCH=x86_64 "$SRC/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$FRAGMENT" >/dev/null)
  "${mk[@]}" olddefconfig >/dev/null
  verify_config "$obj/.config"
  local start=$SECONDS jobs; jobs=$(nproc)
  log "building kernel with -j$jobs in $obj"
  "${mk[@]}" -j"$jobs" vmlinux bzImage >&2
  log "kernel built in $((SECONDS - start)) s"
  local tmp="$out.tmp-$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  cp "$obj/vmlinux" "$tmp/vmlinux"
  cp "$obj/arch/x86/boot/bzImage" "$tmp/bzImage"
  cp "$obj/.config" "$tmp/config"
  touch "$tmp/.complete"
  rm -rf "$out"
  mv -T "$tmp" "$out"
}

# ---------------------------------------------------------------------------------------------
# Initramfs
# ---------------------------------------------------------------------------------------------

init_sources() { find "$INIT_DIR" -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' -o -name Makefile \) ! -name 'test_*' | sort; }
# Test tools: each guest/tools/NAME.c is one program, installed as /bin/NAME.
tool_sources() { find "$TOOLS_DIR" -maxdepth 1 -type f -name '*.c' | sort; }
# The agent: its C sources (not its unit tests) and the protocol it is generated from.
agent_sources() { find "$AGENT_DIR" -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' \) ! -name 'test_*' | sort
  echo "$AGENT_DIR/proto/agent.proto"; echo "$AGENT_DIR/proto/agent.options"; }

initramfs_hash() {
  { source_version; declare -f build_initramfs_locked compile_init compile_tools compile_agent generate_protocol ensure_gen_init_cpio \
      init_sources tool_sources agent_sources
    init_sources | xargs cat; tool_sources | xargs -r cat; agent_sources | xargs cat; sha256sum <"$BUSYBOX"
    dpkg-query -W -f='${Version}' nanopb libnanopb-dev 2>/dev/null || true
    command -v musl-gcc >/dev/null && musl-gcc --version 2>/dev/null | head -1; } | hash_of
}

initramfs_dir() { echo "$CACHE/initramfs/$(initramfs_hash)"; }

# The kernel's own gen_init_cpio writes device nodes from a spec list, so no root is needed.
ensure_gen_init_cpio() {
  ensure_source
  GEN_INIT_CPIO="$CACHE/tools/gen_init_cpio-$(source_version)"
  [[ -x "$GEN_INIT_CPIO" ]] && return 0
  mkdir -p "$CACHE/tools"
  gcc -O2 -o "$GEN_INIT_CPIO.tmp-$$" "$SRC/usr/gen_init_cpio.c"
  mv -f "$GEN_INIT_CPIO.tmp-$$" "$GEN_INIT_CPIO"
}

# Compiles our init statically (musl if available, else glibc).
compile_init() {
  local output="$1" cc=gcc
  command -v musl-gcc >/dev/null 2>&1 && cc=musl-gcc
  local srcs; mapfile -t srcs < <(find "$INIT_DIR" -maxdepth 1 -name '*.c' ! -name 'test_*' | sort)
  "$cc" -static -Os -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE -o "$output" "${srcs[@]}"
  strip "$output"
}

# Compiles each tool statically with the same compiler as init, into directory $1.
compile_tools() {
  local output="$1" cc=gcc src
  command -v musl-gcc >/dev/null 2>&1 && cc=musl-gcc
  mkdir -p "$output"
  while IFS= read -r src; do
    "$cc" -static -Os -Wall -Wextra -Werror -std=c11 -o "$output/$(basename "$src" .c)" "$src"
    strip "$output/$(basename "$src" .c)"
  done < <(tool_sources)
}

# nanopb's generator turns proto/agent.proto (+ agent.options) into agent.pb.c/.h in directory $1,
# next to links to nanopb's headers (musl-gcc must not see all of /usr/include, only these).
generate_protocol() {
  local output="$1" h
  command -v nanopb_generator.py >/dev/null 2>&1 && [[ -r /usr/include/pb.h && -r "$NANOPB_LIB" ]] ||
    die "the guest agent needs nanopb (Debian packages: nanopb libnanopb-dev protobuf-compiler)"
  mkdir -p "$output/include"
  for h in pb.h pb_common.h pb_encode.h pb_decode.h; do ln -sf "/usr/include/$h" "$output/include/$h"; done
  nanopb_generator.py -q -I "$AGENT_DIR/proto" -D "$output" "$AGENT_DIR/proto/agent.proto" >&2
}

# Compiles the guest agent statically (musl if available) with the generated protocol code.
compile_agent() {
  local output="$1" gen="$2" cc=gcc
  command -v musl-gcc >/dev/null 2>&1 && cc=musl-gcc
  generate_protocol "$gen"
  local srcs; mapfile -t srcs < <(find "$AGENT_DIR" -maxdepth 1 -name '*.c' ! -name 'test_*' | sort)
  "$cc" -static -Os -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE "${NANOPB_CFLAGS[@]}" -I "$gen/include" -I "$gen" -I "$AGENT_DIR" \
    -o "$output" "${srcs[@]}" "$gen/agent.pb.c" "$NANOPB_LIB"
  strip "$output"
}

build_initramfs() {
  local out; out=$(initramfs_dir)
  [[ -f "$out/.complete" ]] && return 0
  with_lock "$CACHE/initramfs/.lock" build_initramfs_locked "$out"
}

build_initramfs_locked() {
  local out="$1"
  [[ -f "$out/.complete" ]] && return 0
  need gcc gzip strip
  [[ -x "$BUSYBOX" ]] || die "$BUSYBOX not found (install the Debian package busybox-static)"
  file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || die "$BUSYBOX is not statically linked (install busybox-static)"
  ensure_gen_init_cpio
  local tmp="$out.tmp-$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  log "compiling init"
  compile_init "$tmp/init"
  compile_tools "$tmp/tools"
  log "compiling the guest agent"
  compile_agent "$tmp/flotilla-agent" "$tmp/agent-gen"
  {
    local d
    for d in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp /run /etc /root /mnt /var; do
      echo "dir $d 755 0 0"
    done
    echo "nod /dev/console 600 0 0 c 5 1"
    echo "nod /dev/null 666 0 0 c 1 3"
    echo "file /init $tmp/init 755 0 0"
    echo "file /bin/busybox $BUSYBOX 755 0 0"
    echo "file /bin/flotilla-agent $tmp/flotilla-agent 755 0 0"
    local tool
    for tool in "$tmp"/tools/*; do
      [[ -f "$tool" ]] && echo "file /bin/$(basename "$tool") $tool 755 0 0"
    done
    local applet
    while IFS= read -r applet; do
      [[ "$applet" == bin/busybox ]] && continue
      echo "slink /$applet /bin/busybox 777 0 0"
    done < <("$BUSYBOX" --list-full)
  } >"$tmp/initramfs.list"
  "$GEN_INIT_CPIO" "$tmp/initramfs.list" | gzip -9n >"$tmp/initramfs.cpio.gz"
  touch "$tmp/.complete"
  rm -rf "$out"
  mv -T "$tmp" "$out"
  log "initramfs built: $out/initramfs.cpio.gz"
}

# ---------------------------------------------------------------------------------------------

print_kernel_paths() {
  local d; d=$(kernel_dir)
  [[ -f "$d/.complete" ]] || die "kernel not built for the current inputs (run: guest/build.sh kernel)"
  echo "vmlinux=$d/vmlinux"
  echo "bzImage=$d/bzImage"
  echo "kernel_config=$d/config"
}

print_initramfs_paths() {
  local d; d=$(initramfs_dir)
  [[ -f "$d/.complete" ]] || die "initramfs not built for the current inputs (run: guest/build.sh initramfs)"
  echo "initramfs=$d/initramfs.cpio.gz"
}

usage() {
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

case "${1:-}" in
  kernel) build_kernel; print_kernel_paths ;;
  initramfs) build_initramfs; print_initramfs_paths ;;
  all) build_kernel; build_initramfs; print_kernel_paths; print_initramfs_paths ;;
  paths) print_kernel_paths; print_initramfs_paths ;;
  gen-init-cpio) ensure_gen_init_cpio; echo "$GEN_INIT_CPIO" ;; # for guest/lab/lab.sh
  agent-protocol) [[ -n "${2:-}" ]] || die "usage: guest/build.sh agent-protocol DIR"; generate_protocol "$2" ;; # for guest/test.sh
  check-config) [[ -f "${2:-}" ]] || die "usage: guest/build.sh check-config KERNEL_CONFIG"; verify_config "$2"; echo "ok" ;;
  *) usage ;;
esac
