#!/usr/bin/env bash
# Installs what building, testing and benchmarking fnhost needs on a fresh Debian 12 machine.
# Idempotent: packages already present are not fetched again, and `apt-get update` runs at most
# once, only when something is missing.
set -euo pipefail

APT_PACKAGES=(
    build-essential    # cc and make: native functions, and the C parts of crates (QuickJS)
    pkg-config libssl-dev  # OpenSSL for librdkafka's TLS (the dispatcher's KAFKA_ENABLE_TLS)
    libpython3.11-dev  # the CPython that the Python loader embeds (pyo3 links libpython3.11.so)
    python3.11-dev
    python3-pip        # pip for Debian's python3.11 (installs function dependencies)
    wrk                # load generator of benches/
    prometheus         # the real Prometheus server of conformance/tests/prometheus.rs (and promtool)
    unzip curl xz-utils bzip2  # what the pod's prepare step runs (reconciler/tests/pod_on_host.rs),
                       # and `fnhost run` for a function in an archive
    # Worker-process runtimes (loaders/process): their toolchains, and the bare servers of benches/.
    ruby ruby-bundler  # ruby3.1 functions; bundler runs their install phase
    ruby-rack          # a gem Debian packages whole: the ruby-deps case (rubygems.org is unreachable)
    ruby-webrick       # Ruby's own minimal HTTP server (benches/ baseline)
    openjdk-17-jdk-headless maven  # java17 functions: javac, and Maven for a pom.xml's dependencies
    mono-mcs mono-runtime libmono-posix4.0-cil libmono-system-core4.0-cil libmono-microsoft-csharp4.0-cil
                       # C# functions on Mono (no .NET SDK is installable from the reachable registries)
    clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32
                       # C to WebAssembly: the fnhost Wasm ABI's C example (loaders/wasm/tests/c_guest.rs)
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "setup: system packages present" >&2
fi

# The Prometheus package starts a service on :9090 on machines with systemd; the tests start
# their own server on an ephemeral port and need nothing from it.
for tool in cargo rustc python3.11 node npm go cc wrk prometheus promtool ruby bundle java javac mvn mcs mono clang-19; do
    command -v "$tool" >/dev/null || { echo "setup: $tool is still missing" >&2; exit 1; }
done
rustup component add clippy rustfmt >/dev/null 2>&1 || true
# The Wasm test guests (loaders/wasm/guests) build for WASI preview 1 (fnhost Wasm ABI
# modules) and preview 2 (wasi:http components).
for target in wasm32-wasip1 wasm32-wasip2; do
    if ! rustup target list --installed | grep -qx "$target"; then
        echo "setup: adding the Rust target $target" >&2
        rustup target add "$target"
    fi
done

# kubernetes-validate (PyPI) checks the objects the reconciler writes in API versions that the
# test control plane (1.20) does not serve (autoscaling/v2, batch/v1 CronJob).
VALIDATE_VENV="$HOME/.cache/fnhost/validate-venv"
VALIDATE_VERSION=1.37.0
installed=$("$VALIDATE_VENV/bin/python" -c "import importlib.metadata as m; print(m.version('kubernetes-validate'))" 2>/dev/null || true)
if [ "$installed" != "$VALIDATE_VERSION" ]; then
    echo "setup: installing kubernetes-validate $VALIDATE_VERSION into $VALIDATE_VENV" >&2
    rm -rf "$VALIDATE_VENV"
    python3 -m venv "$VALIDATE_VENV"
    "$VALIDATE_VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$VALIDATE_VERSION"
fi
