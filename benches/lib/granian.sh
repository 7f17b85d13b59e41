#!/usr/bin/env bash
# Prints the path of a virtualenv holding Granian (the Python peer of the load benchmarks),
# making it first if needed: cached in ~/.cache/fnhost/bench-venv, on this machine's python3.
set -euo pipefail
GRANIAN_VERSION=2.8.7
venv="$HOME/.cache/fnhost/bench-venv"
if ! "$venv/bin/python" -c "import granian, sys; sys.exit(granian.__version__ != '$GRANIAN_VERSION')" 2>/dev/null; then
    echo "bench: installing granian $GRANIAN_VERSION into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "granian==$GRANIAN_VERSION" >&2
fi
echo "$venv"
