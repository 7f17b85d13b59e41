#!/usr/bin/env bash
# Builds HAProxy Ingress (github.com/jcmoraisjr/haproxy-ingress) from the Go module proxy,
# unmodified: the node's Ingress controller (networking.k8s.io/v1, Kubernetes 1.19+), run on the
# host by start-cluster.sh in front of Debian's haproxy. Its templates and reload script are
# read at run time from the source's `rootfs/`, so the source is kept beside the binary.
# A few minutes cold on 2 cores; idempotent. (ingress-nginx needs OpenResty's Lua modules, which
# no registry here has; Traefik 3 needs EndpointSlice v1, which Kubernetes 1.20 does not serve.)
#
# Usage: build-haproxy-ingress.sh   (prints the folder holding bin/haproxy-ingress-controller and rootfs/)
set -euo pipefail

VERSION=v0.14.7
MOD=github.com/jcmoraisjr/haproxy-ingress
HOME_DIR=${FNHOST_K8S_HOME:-$HOME/.cache/fnhost-k8s}/haproxy-ingress
STAMP=$HOME_DIR/.version
if [ -x "$HOME_DIR/bin/haproxy-ingress-controller" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSION" ]; then
    echo "$HOME_DIR"; exit 0
fi
command -v go >/dev/null || { echo "build-haproxy-ingress: go is not installed" >&2; exit 1; }
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off

WORK=$(mktemp -d "${TMPDIR:-/tmp}/haproxy-ingress.XXXXXX")
trap 'chmod -R u+w "$WORK"; rm -rf "$WORK"' EXIT
# The module's version list is not served here, so `go install MOD@VERSION` refuses; the
# version itself is, and builds from its own folder.
dir=$(cd "$WORK" && go mod download -json "$MOD@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -f "$dir/go.mod" ] || { echo "build-haproxy-ingress: no source for $MOD@$VERSION" >&2; exit 1; }
rm -rf "$HOME_DIR"
mkdir -p "$HOME_DIR"
cp -r "$dir/." "$HOME_DIR/"
chmod -R u+w "$HOME_DIR"
chmod +x "$HOME_DIR"/rootfs/*.sh
echo "build-haproxy-ingress: building $MOD@$VERSION with $(go version)" >&2
(cd "$HOME_DIR" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/haproxy-ingress-controller ./pkg)
echo "$VERSION" >"$STAMP"
echo "$HOME_DIR"
