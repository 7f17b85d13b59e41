#!/usr/bin/env bash
# The message-trigger benchmark: builds fnhost, fnhost-dispatcher and the driver, makes sure
# the brokers are cached, then runs benches/src/bin/trigger_load.rs (NATS JetStream and Kafka,
# interleaved rounds, the broker's own consumer as the ceiling).
#   benches/triggers.sh            full run (release build, 3 rounds of 20,000 messages per
#                                  broker), also written to benches/results/triggers-latest.md
#   benches/triggers.sh --smoke    the driver end to end in seconds (debug build, 1 round of
#                                  200 messages); what scripts/test.sh runs. Its figures mean nothing.
#   extra trigger-load options go after, e.g. benches/triggers.sh --brokers nats --messages 50000
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fnhost/target}"

profile=release; outdir=release
defaults=(--rounds 3 --messages 20000)
if [ "${1:-}" = "--smoke" ]; then
    shift
    profile=dev; outdir=debug
    defaults=(--rounds 1 --messages 200)
fi

nats_server=$(scripts/brokers/build-nats-server.sh)
kafka_libs=$(scripts/brokers/fetch-kafka.sh)
echo "bench: building fnhost, fnhost-dispatcher and trigger-load ($profile)" >&2
cargo build --quiet --locked --profile "$profile" -p fnhost-proxy -p fnhost-dispatcher -p fnhost-benches --bin fnhost --bin fnhost-dispatcher --bin trigger-load

bin="$CARGO_TARGET_DIR/$outdir"
run() {
    "$bin/trigger-load" \
        --fnhost "$bin/fnhost" \
        --dispatcher "$bin/fnhost-dispatcher" \
        --functions "$PWD/benches/functions" \
        --nats-server "$nats_server" \
        --kafka-libs "$kafka_libs" \
        "${defaults[@]}" "$@"
}

if [ "$profile" = release ]; then
    mkdir -p benches/results
    { echo "# $(date -u +%FT%TZ) on $(nproc) cores, $(uname -r)"; run "$@"; } | tee benches/results/triggers-latest.md
else
    run "$@"
fi
