#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, checks formatting and
# lints, runs every unit, integration and conformance test, and a short benchmark smoke run.
#   scripts/test.sh            everything
#   FNHOST_SKIP_BENCH_SMOKE=1  everything but the benchmark smoke run
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
# The real Kubernetes control plane of the reconciler's cluster tests (built once, ~7 minutes
# cold on 2 cores, cached under ~/.cache/fnhost-k8s).
scripts/k8s/build-control-plane.sh
# The original kubeless CLI v1.0.8, for the end-to-end tests (about a minute cold, cached).
scripts/k8s/build-kubeless-cli.sh
# Prometheus 3 with its Kubernetes discovery (Debian's build lacks it), for the real-cluster
# suite's kubernetes_sd case (a few minutes cold, cached).
scripts/k8s/build-prometheus.sh >/dev/null
# The brokers of the message-trigger tests: nats-server with JetStream (about 30 s cold),
# Apache Kafka's jars from Maven Central (about 10 s cold) and kinesis-local from npm (a few
# seconds), all cached.
scripts/brokers/build-nats-server.sh >/dev/null
scripts/brokers/fetch-kafka.sh >/dev/null
scripts/brokers/fetch-kinesis.sh >/dev/null
# The real-cluster suite (cluster-e2e) starts a single-node cluster and stops it when it ends;
# this stops it too if the suite is killed, so nothing is left running.
trap 'scripts/k8s/stop-cluster.sh --quiet' EXIT

# Build outputs live outside the clone, so a fresh clone reuses them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fnhost/target}"
export CARGO_TERM_COLOR=never
mkdir -p "$CARGO_TARGET_DIR"

step() { echo; echo "==> $* ($(date -u +%H:%M:%S))"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build the fnhost binary the black-box tests boot"
cargo build --locked -p fnhost-proxy

step "cargo test (unit tests, conformance suite, Prometheus scrape, reconciler against kube-apiserver 1.20 and the kubeless CLI, message triggers against real brokers, and the real-cluster suite: images built, pods under kubelet)"
# The log is kept so that, when something fails, the failures are repeated at the very end:
# CI shows the tail of the output, and the failing binary's report is far above it.
test_log="$(mktemp -t fnhost-test.XXXXXX)"
if ! FNHOST_BIN="$CARGO_TARGET_DIR/debug/fnhost" cargo test --workspace --locked --no-fail-fast \
    2>&1 | tee "$test_log"; then
    echo
    echo "==> the failures again (the full log is $test_log):"
    # Each failing test binary's "failures:" report, up to its "test result:" line.
    awk '/^failures:$/ { show = 1 } show { print } /^test result:/ { show = 0 }' "$test_log" |
        tail -n 200
    exit 1
fi
rm -f "$test_log"

if [ "${FNHOST_SKIP_BENCH_SMOKE:-0}" != 1 ]; then
    step "benchmark smoke run (the load driver end to end, a few seconds per target)"
    benches/run.sh --smoke
    step "Python workloads benchmark smoke run (cpu, wait and json beside Granian, a second each)"
    benches/python.sh --smoke
    step "message-trigger benchmark smoke run (NATS and Kafka end to end, 200 messages each)"
    benches/triggers.sh --smoke
fi

echo
echo "all tests passed"
