#!/usr/bin/env bash
# Builds the original kubeless CLI (github.com/kubeless/kubeless v1.0.8, cmd/kubeless) from the
# Go module proxy, unmodified, for the reconciler's end-to-end test. About a minute cold on
# 2 cores; idempotent (exits at once when the binary is there).
#
# `go install github.com/kubeless/kubeless/cmd/kubeless@v1.0.8` does not work here: its
# deprecation check asks the proxy for the module's version list, which answers 403. Downloading
# the pinned version works, so this builds from a writable copy of the module source.
#
# Usage: build-kubeless-cli.sh   (binary: ${FNHOST_KUBELESS_BIN:-$HOME/.cache/fnhost-k8s/kubeless-bin}/kubeless)
set -euo pipefail

VERSION=v1.0.8
MOD=github.com/kubeless/kubeless
BIN_DIR=${FNHOST_KUBELESS_BIN:-$HOME/.cache/fnhost-k8s/kubeless-bin}
if [ -x "$BIN_DIR/kubeless" ] && "$BIN_DIR/kubeless" version 2>/dev/null | grep -q "$VERSION"; then
    echo "kubeless CLI $VERSION already built in $BIN_DIR"; exit 0
fi
command -v go >/dev/null || { echo "build-kubeless-cli: go is not installed" >&2; exit 1; }
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kubeless-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
dir=$(cd "$WORK" && go mod download -json "$MOD@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -f "$dir/go.mod" ] || { echo "build-kubeless-cli: no source for $MOD@$VERSION" >&2; exit 1; }
cp -r "$dir" "$WORK/src"
chmod -R u+w "$WORK/src"
echo "build-kubeless-cli: building $MOD/cmd/kubeless@$VERSION with $(go version)" >&2
(cd "$WORK/src" && go build -trimpath -ldflags "-s -w -X $MOD/pkg/version.Version=$VERSION" -o "$WORK/kubeless" ./cmd/kubeless)
mkdir -p "$BIN_DIR"
install -m 0755 "$WORK/kubeless" "$BIN_DIR/kubeless"
"$BIN_DIR/kubeless" version
