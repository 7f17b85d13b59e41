#!/usr/bin/env bash
# Local stand-ins for the public base images the Dockerfiles under images/ start FROM. No image
# registry is reachable from this machine, so each one is built here with mmdebstrap from the
# machine's own Debian sources (plus its Rust toolchain, Go and Node.js where the real image
# carries them) and imported into Docker under the same name a user's machine would pull.
# Every stand-in trusts the machine's extra CA certificates (HTTPS to the registries goes
# through an intercepting proxy). docs/compat.md lists how each differs from the real image.
#
# Usage: scripts/images/base-images.sh [NAME...]   (default: all of them; see `recipes` below)
# Idempotent: an image is rebuilt only when its recipe (this file's text for it) changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/images/lib.sh
. scripts/images/lib.sh

RUST_TOOLCHAIN=1.95.0
GO_ROOT=${GO_ROOT:-/usr/local/go}

debian_sources() {
    local f
    for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
        [ -s "$f" ] || continue
        grep -q 'deb.debian.org\|debian-security' "$f" && echo "$f"
    done
    return 0
}

# mmdebstrap into $2 with packages $1 (comma-separated), trusting the machine's extra CAs.
debootstrap_into() {
    local include=$1 root=$2
    local sources
    mapfile -t sources < <(debian_sources)
    ((${#sources[@]})) || { log "no Debian apt sources in /etc/apt"; exit 1; }
    # Its output is kept and shown only when it fails; a failure is tried once more (a
    # download cut by the network here is the usual cause), then it stops the build.
    local output attempt
    output=$(mktemp "${TMPDIR:-/tmp}/fnhost-mmdebstrap.XXXXXX")
    for attempt in 1 2; do
        rm -rf "$root"
        if mmdebstrap --variant=minbase --include="ca-certificates,$include" \
            --customize-hook='mkdir -p "$1/usr/local/share/ca-certificates"' \
            --customize-hook="copy-in /usr/local/share/ca-certificates /usr/local/share" \
            --customize-hook='chroot "$1" update-ca-certificates >/dev/null' \
            --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
            bookworm "$root" "${sources[@]}" >"$output" 2>&1; then
            rm -f "$output"
            return 0
        fi
        log "mmdebstrap failed (attempt $attempt of 2; packages: $include); its warnings and errors, then its last lines:"
        grep -E '^(W|E): |proc|not configured|returned error' "$output" | head -n 40 >&2 || true
        echo "..." >&2
        tail -n 30 "$output" >&2
    done
    rm -f "$output"
    exit 1
}

# The extra settings of each stand-in, after the rootfs is made.
customize_rust() {
    local root=$1 tc
    tc=$(rustup toolchain list -v | awk -v t="$RUST_TOOLCHAIN" '$1 ~ "^"t {print $NF}' | head -n1)
    [ -d "$tc" ] || tc=$(dirname "$(dirname "$(rustup which --toolchain "$RUST_TOOLCHAIN" rustc)")")
    [ -x "$tc/bin/cargo" ] || { log "Rust $RUST_TOOLCHAIN is not installed (rustup toolchain install $RUST_TOOLCHAIN)"; exit 1; }
    mkdir -p "$root/usr/local/rustup/toolchains/$RUST_TOOLCHAIN" "$root/usr/local/cargo/bin"
    # The compiler and the host's standard library, without the docs or other targets.
    cp -a "$tc/bin" "$tc/libexec" "$root/usr/local/rustup/toolchains/$RUST_TOOLCHAIN/" 2>/dev/null || true
    mkdir -p "$root/usr/local/rustup/toolchains/$RUST_TOOLCHAIN/lib/rustlib"
    cp -a "$tc"/lib/lib* "$root/usr/local/rustup/toolchains/$RUST_TOOLCHAIN/lib/"
    cp -a "$tc/lib/rustlib/x86_64-unknown-linux-gnu" "$tc/lib/rustlib/etc" \
        "$root/usr/local/rustup/toolchains/$RUST_TOOLCHAIN/lib/rustlib/" 2>/dev/null || true
    local b
    for b in "$root/usr/local/rustup/toolchains/$RUST_TOOLCHAIN"/bin/*; do
        ln -s "../../rustup/toolchains/$RUST_TOOLCHAIN/bin/$(basename "$b")" "$root/usr/local/cargo/bin/"
    done
}

customize_python() {
    local root=$1
    # The official image's interpreter lives in /usr/local and pip may install anywhere.
    rm -f "$root"/usr/lib/python3.*/EXTERNALLY-MANAGED
    for b in python3.11 python3 python; do ln -sf /usr/bin/python3.11 "$root/usr/local/bin/$b"; done
    ln -sf /usr/bin/pip3 "$root/usr/local/bin/pip"
}

customize_node() {
    local root=$1
    cp -a "$(command -v node)" "$root/usr/local/bin/node"
    mkdir -p "$root/usr/local/lib"
    cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/../.." "$root/usr/local/lib/node_modules"
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
}

customize_golang() {
    local root=$1
    cp -a "$GO_ROOT" "$root/usr/local/go"
}

# name | Debian packages | customize function | extra ENV (;-separated)
recipes() {
    cat <<'EOF'
debian:bookworm-slim|tzdata||
rust:1.95-slim-bookworm|gcc,libc6-dev,pkg-config|customize_rust|RUSTUP_HOME=/usr/local/rustup;CARGO_HOME=/usr/local/cargo;PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
python:3.11-slim-bookworm|python3.11,libpython3.11-dev,python3-pip,python3-setuptools,python3-wheel|customize_python|PYTHONUNBUFFERED=1
node:20-bookworm-slim|libstdc++6|customize_node|
ruby:3.1-slim-bookworm|ruby3.1,ruby,bundler,ruby-dev,make,gcc,libc6-dev||
golang:1.26-bookworm|gcc,libc6-dev,git|customize_golang|PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
maven:3.9-eclipse-temurin-17|openjdk-17-jdk-headless,maven||JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
mono:6.8|mono-runtime,mono-mcs,libmono-system-web-extensions4.0-cil||
fnhost/unzip:local|unzip,curl,tar,xz-utils,bzip2,gzip||
EOF
}

build_standin() {
    local line=$1 name pkgs custom envs
    IFS='|' read -r name pkgs custom envs <<<"$line"
    local recipe
    recipe=$(printf '%s\n' "$line"; [ -z "$custom" ] || declare -f "$custom")
    local hash
    hash=$(printf '%s' "$recipe" | sha256sum | cut -c1-16)
    if [ "$("$DOCKER" image inspect -f '{{ index .Config.Labels "fnhost.stand-in" }}' "$name" 2>/dev/null)" = "$hash" ]; then
        log "stand-in $name is up to date"; return 0
    fi
    log "building the stand-in $name (mmdebstrap bookworm: $pkgs)"
    local work
    work=$(mktemp -d "${TMPDIR:-/tmp}/fnhost-standin.XXXXXX")
    debootstrap_into "$pkgs" "$work/rootfs"
    [ -z "$custom" ] || "$custom" "$work/rootfs"
    local changes=(--change "LABEL fnhost.stand-in=$hash" --change 'CMD ["bash"]')
    local env
    IFS=';' read -ra env <<<"$envs"
    for e in "${env[@]}"; do [ -z "$e" ] || changes+=(--change "ENV $e"); done
    tar -C "$work/rootfs" -c . | "$DOCKER" import "${changes[@]}" - "$name" >/dev/null
    rm -rf "$work"
}

build_pause() {
    local name=$PAUSE_IMAGE hash
    hash=$(sha256sum scripts/images/pause.c | cut -c1-16)
    if [ "$("$DOCKER" image inspect -f '{{ index .Config.Labels "fnhost.stand-in" }}' "$name" 2>/dev/null)" = "$hash" ]; then
        log "stand-in $name is up to date"; return 0
    fi
    log "building the stand-in $name (scripts/images/pause.c, static)"
    local work
    work=$(mktemp -d "${TMPDIR:-/tmp}/fnhost-pause.XXXXXX")
    gcc -Os -static -o "$work/pause" scripts/images/pause.c
    tar -C "$work" -c pause | "$DOCKER" import --change "LABEL fnhost.stand-in=$hash" \
        --change 'ENTRYPOINT ["/pause"]' - "$name" >/dev/null
    rm -rf "$work"
}

main() {
    # mmdebstrap mounts /proc in the chroot with `mount` (the JDK's postinst refuses to run
    # without it) and infers signed-by with gpg; installed without recommends, it has neither.
    need_packages mmdebstrap mount gpg docker.io gcc libc6-dev
    ensure_dockerd
    local wanted=("$@") line
    build_pause
    while IFS= read -r line; do
        local name=${line%%|*}
        if ((${#wanted[@]})) && ! printf '%s\n' "${wanted[@]}" | grep -qxF "$name"; then continue; fi
        build_standin "$line"
    done < <(recipes)
}

main "$@"
