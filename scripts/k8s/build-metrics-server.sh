#!/usr/bin/env bash
# Builds metrics-server (sigs.k8s.io/metrics-server) from the Go module proxy, unmodified: the
# node's resource metrics API (metrics.k8s.io), which the HorizontalPodAutoscaler controller
# reads for `kubeless autoscale create --metric cpu`. v0.7.2 supports Kubernetes 1.19+ (its
# README); start-cluster.sh runs it on the host behind the apiserver's aggregation layer.
# A few minutes cold on 2 cores; idempotent.
#
# Usage: build-metrics-server.sh   (binary: ${FNHOST_K8S_BIN:-$HOME/.cache/fnhost-k8s/bin}/metrics-server)
set -euo pipefail

VERSION=v0.7.2
MOD=sigs.k8s.io/metrics-server
BIN_DIR=${FNHOST_K8S_BIN:-$HOME/.cache/fnhost-k8s/bin}
STAMP=$BIN_DIR/.metrics-server.version
if [ -x "$BIN_DIR/metrics-server" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSION" ]; then
    echo "metrics-server $VERSION already built in $BIN_DIR"; exit 0
fi
command -v go >/dev/null || { echo "build-metrics-server: go is not installed" >&2; exit 1; }
export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false"
mkdir -p "$BIN_DIR"
echo "build-metrics-server: building $MOD@$VERSION with $(go version)" >&2
CGO_ENABLED=0 GOBIN="$BIN_DIR" go install -trimpath -ldflags "-s -w" "$MOD/cmd/metrics-server@$VERSION"
echo "$VERSION" >"$STAMP"
echo "metrics-server $VERSION built in $BIN_DIR"
