#!/usr/bin/env bash
# Builds the container image of Flotilla services and pushes it to a registry, without a Docker engine.
#   deploy/image/build.sh --registry HOST:PORT [--insecure] [--tag TAG] [MODULE...]
# MODULE is a Quarkus service module (default: control-plane, and node-agent when it exists). For each:
#  1. its base image (deploy/image/build-base.sh: Debian 12 + jlinked Java 25, plus the Debian packages the
#     service needs on its host side, listed below) is built once, cached, and copied to the registry by skopeo;
#  2. Maven builds the module with the `image` profile: Quarkus' Jib extension layers the application onto that
#     base and pushes REGISTRY/flotilla/MODULE:TAG.
# Prints one line per image: MODULE REGISTRY/flotilla/MODULE:TAG
set -euo pipefail

FLOTILLA_HOME="${FLOTILLA_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"

# Debian packages each service's image needs besides Java (comma-separated).
declare -A BASE_PACKAGES=(
  # The embedded PostgreSQL binaries (used when no JDBC URL is configured) link against libstdc++.
  [control-plane]="libstdc++6"
  # Taps, bridges, NAT and sandbox isolation are made with these (issue #5); CNI plugins call iptables too.
  [node-agent]="iproute2,nftables,iptables,kmod"
)

registry=""
insecure=false
tag=""
modules=()
while (($#)); do
  case "$1" in
    --registry) registry="$2"; shift 2 ;;
    --insecure) insecure=true; shift ;;
    --tag) tag="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "image build: unknown option $1" >&2; exit 2 ;;
    *) modules+=("$1"); shift ;;
  esac
done
[[ -n "$registry" ]] || { echo "image build: --registry HOST:PORT is required (deploy/image/README.md)" >&2; exit 2; }
if ((${#modules[@]} == 0)); then
  modules=(control-plane)
  [[ -f "$FLOTILLA_HOME/node-agent/pom.xml" ]] && modules+=(node-agent)
fi
for tool in skopeo mvn; do
  command -v "$tool" >/dev/null || { echo "image build: $tool is needed" >&2; exit 1; }
done
version=$(sed -n 's:^  <version>\(.*\)</version>:\1:p' "$FLOTILLA_HOME/pom.xml" | head -1)
tag="${tag:-$version}"
tls_verify=true
$insecure && tls_verify=false

for module in "${modules[@]}"; do
  [[ -f "$FLOTILLA_HOME/$module/src/main/resources/application.properties" ]] \
    || { echo "image build: $module is not a Quarkus service module of $FLOTILLA_HOME" >&2; exit 2; }
  [[ -v "BASE_PACKAGES[$module]" ]] \
    || { echo "image build: no base image packages declared for $module in $0" >&2; exit 2; }
  packages="${BASE_PACKAGES[$module]}"
  base_name="base-$module"
  layout=$("$FLOTILLA_HOME/deploy/image/build-base.sh" "$base_name" "$packages")
  # The layout directory name ends in the hash of the base image's inputs: a changed base gets a new tag.
  base_tag=$(basename "${layout%:*}" | sed "s/^$base_name-//")
  base_ref="$registry/flotilla/$base_name:$base_tag"
  echo "image build: $module: base $base_ref" >&2
  skopeo copy --quiet --dest-tls-verify="$tls_verify" "oci:$layout" "docker://$base_ref" >&2
  (cd "$FLOTILLA_HOME" && mvn -B -q -pl "$module" -am package -DskipTests -Dflotilla.image \
    -Dquarkus.container-image.build=true -Dquarkus.container-image.push=true \
    -Dquarkus.container-image.registry="$registry" -Dquarkus.container-image.group=flotilla \
    -Dquarkus.container-image.name="$module" -Dquarkus.container-image.tag="$tag" \
    -Dquarkus.container-image.insecure="$insecure" -Dquarkus.jib.base-jvm-image="$base_ref" \
    -Dquarkus.jib.user=10001 -Dquarkus.jib.working-directory=/deployments >&2)
  echo "$module $registry/flotilla/$module:$tag"
done
