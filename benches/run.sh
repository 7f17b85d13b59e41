#!/usr/bin/env bash
# The load benchmark: builds fnhost and the hyper baseline, prepares Granian in a cached
# virtualenv, then runs benches/src/bin/load.rs (all targets, interleaved rounds).
#   benches/run.sh                 full run (release build, 5 rounds of 10 s), also written to
#                                  benches/results/latest.md
#   benches/run.sh --smoke         the driver end to end in seconds (debug build, 1 round of 1 s);
#                                  what scripts/test.sh runs. Its figures mean nothing.
#   extra fnhost-load options go after, e.g. benches/run.sh --rounds 3 --connections 64
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fnhost/target}"

profile=release; outdir=release
defaults=(--rounds 5 --seconds 10 --warmup 2)
micro_calls=200000
respawn_rounds=5
if [ "${1:-}" = "--smoke" ]; then
    shift
    profile=dev; outdir=debug
    defaults=(--rounds 1 --seconds 1 --warmup 0)
    micro_calls=2000
    respawn_rounds=1
fi

venv=$(benches/lib/granian.sh)

# wasmtime-cli (`wasmtime serve`, the Wasm baseline) is built once into a cache; the smoke run
# leaves it out (building it takes about ten minutes on two cores) and says so.
WASMTIME_VERSION=48.0.8
tools="$HOME/.cache/fnhost/tools"
wasmtime_args=()
if [ "$profile" = release ]; then
    if ! "$tools/bin/wasmtime" --version 2>/dev/null | grep -q "^wasmtime $WASMTIME_VERSION "; then
        echo "bench: building wasmtime-cli $WASMTIME_VERSION into $tools (first run only)" >&2
        cargo install --quiet --locked wasmtime-cli --version "$WASMTIME_VERSION" --root "$tools" \
            --target-dir "$HOME/.cache/fnhost/wasmtime-cli-build"
    fi
    wasmtime_args=(--wasmtime "$tools/bin/wasmtime")
else
    echo "bench: smoke run without the wasmtime-serve target (the full run builds wasmtime-cli)" >&2
fi

echo "bench: building fnhost and the baseline ($profile)" >&2
cargo build --quiet --locked --profile "$profile" -p fnhost-proxy -p fnhost-benches

bin="$CARGO_TARGET_DIR/$outdir"
# The native hello world, outside the clone's tracked files (benches/functions/*.so is ignored).
cc -shared -fPIC -O2 -Wall -Werror -I loaders/native/include -o benches/functions/libhello.so benches/functions/native_hello.c
# The Go hello world, compiled by fnhost's own compile phase, and Go's bare net/http peer.
"$bin/fnhost" build go --dir benches/functions/go --handler Foo >/dev/null
(cd benches/functions/go_peer && GOTOOLCHAIN=local go build -o ../go-peer .)
# Java and C# hello worlds through fnhost's compile phases, and their bare-server peers built
# against the same function and types.
"$bin/fnhost" build java --dir benches/functions/java >/dev/null
javac -nowarn -d benches/functions/java-peer -cp benches/functions/java/.fnhost-java/classes \
    benches/functions/java_peer/JavaPeer.java
"$bin/fnhost" build dotnet --dir benches/functions/dotnet >/dev/null
mcs -nologo -optimize+ -out:benches/functions/dotnet-peer.exe benches/functions/dotnet_peer.cs \
    benches/functions/dotnet/hello.cs loaders/process/shims/dotnet/Functions.cs
# The Wasm hello worlds, built from source (a wasi:http component and an ABI 1 module).
mkdir -p benches/functions/wasm
loaders/wasm/guests/build.sh http-functions benches/functions/wasm/hello.wasm
loaders/wasm/guests/build.sh kubeless-functions benches/functions/wasm/helloabi.wasm
run() {
    "$bin/fnhost-load" --fnhost "$bin/fnhost" --baseline "$bin/hyper-baseline" \
        --functions "$PWD/benches/functions" --granian "$venv/bin/granian" \
        "${wasmtime_args[@]}" "${defaults[@]}" "$@"
    echo
    echo "Per-call overhead of the Python loader without HTTP (python-calls, $micro_calls calls each):"
    echo
    "$bin/python-calls" "$PWD/benches/functions" "$micro_calls"
    echo
    echo "Instantiation and per-call overhead of the embedded JavaScript loader without HTTP (js-calls, $micro_calls calls each):"
    echo
    "$bin/js-calls" "$PWD/benches/functions" "$micro_calls"
    echo
    echo "Instantiation and per-call overhead of the Wasm loader without HTTP (wasm-calls, $micro_calls calls each):"
    echo
    "$bin/wasm-calls" "$PWD/benches/functions" "$micro_calls"
    echo
    echo "Worker replacement after a timeout (fnhost-respawn, FNHOST_WORKERS=1, FUNC_TIMEOUT=1, $respawn_rounds rounds):"
    echo
    "$bin/fnhost-respawn" --fnhost "$bin/fnhost" --functions "$PWD/benches/functions" --rounds "$respawn_rounds"
}
if [ "$profile" = release ]; then
    mkdir -p benches/results
    { echo "# $(date -u +%FT%TZ) on $(nproc) cores, $(uname -r)"; echo; run "$@"; } | tee benches/results/latest.md
else
    run "$@"
fi
