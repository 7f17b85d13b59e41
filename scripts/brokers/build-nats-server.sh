#!/usr/bin/env bash
# Builds nats-server (github.com/nats-io/nats-server/v2) from the Go module proxy, unmodified,
# for the NATSTrigger tests: the tests start it on loopback with JetStream. About a minute cold
# on 2 cores; cached by version; idempotent.
#
# Usage: build-nats-server.sh   (prints the binary's path:
#        ${FNHOST_BROKERS_BIN:-$HOME/.cache/fnhost-brokers/bin}/nats-server)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/go-tool.sh
. scripts/lib/go-tool.sh
go_install_cached nats-server github.com/nats-io/nats-server/v2 v2.15.3 \
    "${FNHOST_BROKERS_BIN:-$HOME/.cache/fnhost-brokers/bin}"
