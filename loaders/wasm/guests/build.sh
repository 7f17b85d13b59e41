#!/bin/sh
# Builds one test guest for WebAssembly and copies it to OUTPUT:
#   build.sh http-functions|kubeless-functions OUTPUT.wasm
# http-functions is a wasi:http component (wasm32-wasip2); kubeless-functions is a core
# module for fnhost Wasm ABI 1 (wasm32-wasip1). Needs the two Rust targets
# (scripts/setup.sh adds them). Builds go to FNHOST_WASM_GUESTS_TARGET (default
# ~/.cache/fnhost/wasm-guests), outside the repository.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
guest=$1
output=$2
case "$guest" in
    http-functions) target=wasm32-wasip2 ;;
    kubeless-functions) target=wasm32-wasip1 ;;
    *) echo "build.sh: unknown guest $guest" >&2; exit 2 ;;
esac
target_dir=${FNHOST_WASM_GUESTS_TARGET:-${XDG_CACHE_HOME:-$HOME/.cache}/fnhost/wasm-guests}
cargo build --quiet --release --locked --manifest-path "$here/Cargo.toml" \
    --package "$guest" --target "$target" --target-dir "$target_dir"
cp "$target_dir/$target/release/$(echo "$guest" | tr - _).wasm" "$output"
