#!/usr/bin/env bash
# Fetches kinesis-local (kinesis-mock, an implementation of the Kinesis API) from npm, for the
# KinesisTrigger tests: no AWS is reachable here, and the dispatcher's client is the AWS SDK a
# real account uses. A few seconds cold; cached by version; idempotent.
#
# Usage: fetch-kinesis.sh   (prints the package folder, which holds main.js and server.json:
#        ${FNHOST_BROKERS_DIR:-$HOME/.cache/fnhost-brokers}/kinesis-local-<version>/node_modules/kinesis-local)
set -euo pipefail

VERSION=0.6.2
DIR=${FNHOST_BROKERS_DIR:-$HOME/.cache/fnhost-brokers}/kinesis-local-$VERSION
PACKAGE=$DIR/node_modules/kinesis-local
if [ -f "$PACKAGE/main.js" ] && [ -f "$DIR/.complete" ]; then
    echo "$PACKAGE"; exit 0
fi
command -v npm >/dev/null || { echo "fetch-kinesis: npm is not installed" >&2; exit 1; }
echo "fetch-kinesis: installing kinesis-local@$VERSION from npm" >&2
rm -rf "$DIR"
mkdir -p "$DIR"
npm install --silent --no-audit --no-fund --prefix "$DIR" "kinesis-local@$VERSION" >&2
[ -f "$PACKAGE/main.js" ] || { echo "fetch-kinesis: $PACKAGE/main.js is missing" >&2; exit 1; }
touch "$DIR/.complete"
echo "$PACKAGE"
