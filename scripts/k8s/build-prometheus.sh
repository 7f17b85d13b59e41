#!/usr/bin/env bash
# Builds Prometheus (github.com/prometheus/prometheus, 3.x) from the Go module proxy,
# unmodified, with only its Kubernetes service discovery (the build tags
# `remove_all_sd,enable_kubernetes_sd`, Prometheus's own way to leave the other plugins out):
# the real-cluster suite's Prometheus, which finds function pods through the Kubernetes API.
# Debian's prometheus package (the one scripts/setup.sh installs for the scrape test) is built
# without kubernetes_sd. Several minutes cold on 2 cores; idempotent.
#
# Usage: build-prometheus.sh   (prints the binary's path:
#        ${FNHOST_K8S_BIN:-$HOME/.cache/fnhost-k8s/bin}/prometheus-k8s-sd)
set -euo pipefail

VERSION=v0.316.0   # Prometheus 3.16
MOD=github.com/prometheus/prometheus
BIN_DIR=${FNHOST_K8S_BIN:-$HOME/.cache/fnhost-k8s/bin}
BIN=$BIN_DIR/prometheus-k8s-sd
STAMP=$BIN_DIR/.prometheus-k8s-sd.version
if [ -x "$BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSION" ]; then
    echo "$BIN"; exit 0
fi
command -v go >/dev/null || { echo "build-prometheus: go is not installed" >&2; exit 1; }
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off

WORK=$(mktemp -d "${TMPDIR:-/tmp}/prometheus.XXXXXX")
trap 'chmod -R u+w "$WORK"; rm -rf "$WORK"' EXIT
dir=$(cd "$WORK" && go mod download -json "$MOD@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -f "$dir/go.mod" ] || { echo "build-prometheus: no source for $MOD@$VERSION" >&2; exit 1; }
echo "build-prometheus: building $MOD@$VERSION (Kubernetes discovery only) with $(go version)" >&2
(cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" \
    -tags remove_all_sd,enable_kubernetes_sd -o "$WORK/prometheus" ./cmd/prometheus)
mkdir -p "$BIN_DIR"
install -m 0755 "$WORK/prometheus" "$BIN"
echo "$VERSION" >"$STAMP"
echo "$BIN"
