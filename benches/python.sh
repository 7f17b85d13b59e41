#!/usr/bin/env bash
# The Python workloads benchmark (issue: Python on real workloads): fnhost's Python loader on
# pure-Python work, calls that wait on I/O and 64 KiB JSON, beside Granian with 1 and 2
# workers in the same run (benches/src/bin/python_workloads.rs).
#   benches/python.sh            full run (release build, 3 interleaved rounds of 10 s), also
#                                written to benches/results/python-latest.md
#   benches/python.sh --smoke    the driver end to end in seconds (debug build, 1 round of
#                                1 s); what scripts/test.sh runs. Its figures mean nothing.
#   extra python-workloads options go after, e.g. benches/python.sh --only cpu,wait
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fnhost/target}"

profile=release; outdir=release
defaults=(--rounds 3 --seconds 10 --warmup 2)
if [ "${1:-}" = "--smoke" ]; then
    shift
    profile=dev; outdir=debug
    defaults=(--rounds 1 --seconds 1 --warmup 0)
fi

venv=$(benches/lib/granian.sh)
echo "bench: building fnhost, the baseline and python-workloads ($profile)" >&2
cargo build --quiet --locked --profile "$profile" -p fnhost-proxy -p fnhost-benches \
    --bin fnhost --bin hyper-baseline --bin python-workloads

bin="$CARGO_TARGET_DIR/$outdir"
run() {
    "$bin/python-workloads" --fnhost "$bin/fnhost" --baseline "$bin/hyper-baseline" \
        --functions "$PWD/benches/functions" --granian "$venv/bin/granian" \
        "${defaults[@]}" "$@"
}
if [ "$profile" = release ]; then
    mkdir -p benches/results
    { echo "# $(date -u +%FT%TZ) on $(nproc) cores, $(uname -r)"; echo; run "$@"; } | tee benches/results/python-latest.md
else
    run "$@"
fi
