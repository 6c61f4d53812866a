#!/usr/bin/env bash
# Builds a Flotilla base image without a Docker engine and prints its OCI layout reference (DIR:TAG).
#   deploy/image/build-base.sh NAME [EXTRA_DEBIAN_PACKAGES]
# The image is Debian 12 (mmdebstrap, Essential packages plus ca-certificates, netbase and the extra packages given
# as a comma-separated list) with a jlinked Java 25 runtime from $JAVA_HOME in /opt/java, user 10001 "flotilla",
# working directory /deployments. Quarkus' Jib extension puts the service on top of it (see deploy/image/README.md).
# Cached in ${FLOTILLA_CACHE}/images/NAME-<hash of the inputs>: a second call with the same inputs does nothing.
set -euo pipefail

NAME="${1:?usage: build-base.sh NAME [EXTRA_DEBIAN_PACKAGES]}"
EXTRA="${2:-}"
SUITE=bookworm
PACKAGES="ca-certificates,netbase${EXTRA:+,$EXTRA}"
# The Java modules a Quarkus service needs (java.se covers JDBC, JNDI, JMX, XML, HTTP client; the jdk.* ones are
# used by Netty, the Kubernetes client's TLS and Quarkus' own class loading).
MODULES="java.se,jdk.unsupported,jdk.crypto.ec,jdk.zipfs,jdk.naming.dns,jdk.management,jdk.localedata"
JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
CACHE="${FLOTILLA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flotilla}"

for tool in mmdebstrap umoci; do
  command -v "$tool" >/dev/null || { echo "build-base: $tool is needed (apt-get install $tool)" >&2; exit 1; }
done
[[ -x "$JAVA_HOME/bin/jlink" ]] || { echo "build-base: no jlink in JAVA_HOME=$JAVA_HOME (a JDK 25 is needed)" >&2; exit 1; }

java_version=$("$JAVA_HOME/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.runtime.version = //p')
hash=$(printf '%s\n' "$SUITE" "$PACKAGES" "$MODULES" "$java_version" "$(sha256sum < "$0")" | sha256sum | cut -c1-12)
LAYOUT="$CACHE/images/$NAME-$hash"
if [[ -f "$LAYOUT/index.json" ]]; then
  echo "$LAYOUT:latest"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "build-base: Debian $SUITE ($PACKAGES) + Java $java_version -> $LAYOUT" >&2
mmdebstrap --quiet --variant=essential --include="$PACKAGES" \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  "$SUITE" "$work/rootfs.tar" >&2

umoci init --layout "$work/oci"
umoci new --image "$work/oci:latest"
umoci unpack --image "$work/oci:latest" "$work/bundle" >/dev/null
rootfs="$work/bundle/rootfs"
tar -xf "$work/rootfs.tar" -C "$rootfs"
"$JAVA_HOME/bin/jlink" --add-modules "$MODULES" --strip-debug --no-man-pages --no-header-files \
  --compress=zip-6 --output "$rootfs/opt/java"
# A fixed non-root user: Kubernetes' runAsNonRoot can only check a numeric user.
echo "flotilla:x:10001:10001:Flotilla service:/deployments:/usr/sbin/nologin" >> "$rootfs/etc/passwd"
echo "flotilla:x:10001:" >> "$rootfs/etc/group"
install -d -o 10001 -g 10001 "$rootfs/deployments" "$rootfs/var/lib/flotilla"
rm -rf "$rootfs/var/cache/apt"/* "$rootfs/var/lib/apt/lists"/* "$rootfs/var/log"/*
umoci repack --image "$work/oci:latest" "$work/bundle"
umoci config --image "$work/oci:latest" \
  --config.env "PATH=/opt/java/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --config.env "JAVA_HOME=/opt/java" --config.env "LANG=C.UTF-8" \
  --config.user "10001:10001" --config.workingdir /deployments \
  --author "Flotilla" --config.label "org.opencontainers.image.title=flotilla-$NAME" \
  --config.label "org.opencontainers.image.description=Debian $SUITE with Java $java_version for Flotilla services"
umoci gc --layout "$work/oci"

mkdir -p "$CACHE/images"
rm -rf "$LAYOUT.partial" && mv "$work/oci" "$LAYOUT.partial" && mv "$LAYOUT.partial" "$LAYOUT"
echo "$LAYOUT:latest"
