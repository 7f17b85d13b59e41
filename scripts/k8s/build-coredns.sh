#!/usr/bin/env bash
# Builds CoreDNS (github.com/coredns/coredns) from the Go module proxy, unmodified: the node's
# cluster DNS (`*.svc.cluster.local`), run on the host by start-cluster.sh with its kubernetes
# plugin. A few minutes cold on 2 cores; idempotent (exits at once when the binary is there).
#
# Usage: build-coredns.sh   (binary: ${FNHOST_K8S_BIN:-$HOME/.cache/fnhost-k8s/bin}/coredns)
set -euo pipefail

VERSION=v1.14.3
MOD=github.com/coredns/coredns
BIN_DIR=${FNHOST_K8S_BIN:-$HOME/.cache/fnhost-k8s/bin}
if [ -x "$BIN_DIR/coredns" ] && "$BIN_DIR/coredns" -version 2>/dev/null | grep -q "CoreDNS-${VERSION#v}"; then
    echo "CoreDNS $VERSION already built in $BIN_DIR"; exit 0
fi
command -v go >/dev/null || { echo "build-coredns: go is not installed" >&2; exit 1; }
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/coredns.XXXXXX")
trap 'chmod -R u+w "$WORK"; rm -rf "$WORK"' EXIT
dir=$(cd "$WORK" && go mod download -json "$MOD@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -f "$dir/go.mod" ] || { echo "build-coredns: no source for $MOD@$VERSION" >&2; exit 1; }
cp -r "$dir" "$WORK/src"
chmod -R u+w "$WORK/src"
echo "build-coredns: building $MOD@$VERSION with $(go version)" >&2
(cd "$WORK/src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$WORK/coredns" .)
mkdir -p "$BIN_DIR"
install -m 0755 "$WORK/coredns" "$BIN_DIR/coredns"
"$BIN_DIR/coredns" -version
