#!/usr/bin/env bash
# Builds metrics-server (sigs.k8s.io/metrics-server) from the Go module proxy, unmodified: the
# node's resource metrics API (metrics.k8s.io), which the HorizontalPodAutoscaler controller
# reads for `kubeless autoscale create --metric cpu`. v0.7.2 supports Kubernetes 1.19+ (its
# README); start-cluster.sh runs it on the host behind the apiserver's aggregation layer.
# A few minutes cold on 2 cores; idempotent.
#
# Usage: build-metrics-server.sh   (binary: ${FNHOST_K8S_BIN:-$HOME/.cache/fnhost-k8s/bin}/metrics-server)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/go-tool.sh
. scripts/lib/go-tool.sh
go_install_cached metrics-server sigs.k8s.io/metrics-server/cmd/metrics-server v0.7.2 \
    "${FNHOST_K8S_BIN:-$HOME/.cache/fnhost-k8s/bin}"
