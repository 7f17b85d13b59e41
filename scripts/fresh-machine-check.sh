#!/usr/bin/env bash
# Runs the README's test command (scripts/test.sh) on a brand-new machine: a clean Debian
# bookworm container built by mmdebstrap from this machine's own apt sources, holding only
# what a new machine of this project's kind comes with (the Rust toolchain by rustup, Go,
# Node.js with npm, pyenv's CPython 3.11), plus the machine's extra CA certificates so that
# the HTTPS registries work inside it. Nothing the project installed is in it: no cargo
# registry, no build cache, no apt package beyond the base system.
#
#   scripts/fresh-machine-check.sh            test HEAD of this clone (committed work only)
#   FRESH_REBUILD=1 scripts/fresh-machine-check.sh   rebuild the base image first
#   FRESH_IMAGE_ONLY=1 scripts/fresh-machine-check.sh build the base image, run nothing
#
# Not part of .ci/run (a cold run builds everything from nothing, the node's tools and images too).
# The log goes to ~/.cache/fnhost/fresh-machine/<UTC time>.log; the last lines say the result
# and how long it took.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=fnhost-fresh-machine:bookworm
STATE="$HOME/.cache/fnhost/fresh-machine"
mkdir -p "$STATE"

log() { echo "fresh-machine: $*" >&2; }

need=()
for pkg in docker.io mmdebstrap; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# dockerd by hand: this machine has no systemd.
if ! docker info >/dev/null 2>&1; then
    log "starting dockerd (log: $STATE/dockerd.log)"
    nohup dockerd >"$STATE/dockerd.log" 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { log "dockerd did not start; see $STATE/dockerd.log"; exit 1; }
fi

# The toolchains a new machine of this kind has before any session starts.
copy_toolchains() {
    local root=$1
    local rust_default
    rust_default=$(sed -n 's/^default_toolchain = "\(.*\)"/\1/p' /root/.rustup/settings.toml)
    mkdir -p "$root/root/.rustup/toolchains" "$root/root/.cargo" "$root/root/.pyenv/versions" "$root/usr/local"
    cp -a /root/.rustup/settings.toml "$root/root/.rustup/"
    cp -a "/root/.rustup/toolchains/$rust_default" "$root/root/.rustup/toolchains/"
    cp -a /root/.cargo/bin "$root/root/.cargo/"
    # The wasm targets are the project's own install step (setup.sh): rustup itself removes
    # them from the copy (it keeps its own record of installed targets).
    local installed target
    installed=$(RUSTUP_HOME="$root/root/.rustup" rustup target list --installed --toolchain "$rust_default")
    for target in $installed; do
        case "$target" in
            wasm32-*) RUSTUP_HOME="$root/root/.rustup" rustup target remove --toolchain "$rust_default" "$target" ;;
        esac
    done
    if RUSTUP_HOME="$root/root/.rustup" rustup target list --installed --toolchain "$rust_default" | grep -q '^wasm32'; then
        log "cannot remove the wasm targets from the copied toolchain"; exit 1
    fi
    cp -a /usr/local/go "$root/usr/local/"
    cp -a /usr/bin/node "$root/usr/bin/node"
    cp -a /usr/lib/node_modules "$root/usr/lib/"
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/bin/npx"
    for d in bin libexec plugins shims version; do cp -a "/root/.pyenv/$d" "$root/root/.pyenv/"; done
    cp -a /root/.pyenv/versions/3.11.7 "$root/root/.pyenv/versions/"
    echo 3.11.7 >"$root/root/.pyenv/version"
}

build_image() {
    local work
    work=$(mktemp -d "${TMPDIR:-/tmp}/fnhost-fresh.XXXXXX")
    log "building the base image with mmdebstrap (bookworm, from this machine's apt sources)"
    local sources=()
    for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
        [ -s "$f" ] && grep -qv '^\s*#' "$f" && sources+=("$f")
    done
    mmdebstrap --quiet --variant=apt --include=ca-certificates,git,sudo,procps,xz-utils,unzip \
        --customize-hook='mkdir -p "$1/usr/local/share/ca-certificates"' \
        --customize-hook="copy-in /usr/local/share/ca-certificates /usr/local/share" \
        --customize-hook='chroot "$1" update-ca-certificates >/dev/null' \
        bookworm "$work/rootfs" "${sources[@]}"
    copy_toolchains "$work/rootfs"
    log "importing the image $IMAGE"
    tar -C "$work/rootfs" -c . | docker import \
        --change 'ENV PATH=/usr/local/go/bin:/root/go/bin:/root/.cargo/bin:/root/.pyenv/shims:/root/.pyenv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV HOME=/root' \
        --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        --change 'ENV CI=true' \
        - "$IMAGE" >/dev/null
    rm -rf "$work"
}

if [ "${FRESH_REBUILD:-0}" = 1 ] || ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    build_image
fi
if [ "${FRESH_IMAGE_ONLY:-0}" = 1 ]; then log "image $IMAGE is ready"; exit 0; fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
logfile="$STATE/$stamp.log"
commit=$(git -C "$REPO" rev-parse HEAD)
log "testing commit $commit in a new container (log: $logfile)"
started=$(date +%s)
set +e
# A fresh clone inside the container, exactly as CI makes one; the checkout is mounted read-only.
# The suite starts a whole node in it (dockerd for the image builds, containerd, kubelet,
# kube-proxy, CNI), so the container gets what `--privileged` would give, less the one
# capability root lacks here (CAP_SYS_RESOURCE: with it runc refuses to start the container):
# every other capability, no seccomp or AppArmor profile, writable /proc/sys, every device, and
# the host's cgroup tree. The folders those daemons keep layered filesystems in are volumes
# (overlayfs cannot sit on the container's own overlay root). Its kubelet shares the host's
# cgroup tree (cgroup v1 here), so no cluster may run on the host meanwhile: this script
# refuses to start while one does.
if pgrep -x kubelet >/dev/null || pgrep -f "containerd --config .*fnhost" >/dev/null; then
    log "a cluster is running on this machine (scripts/k8s/stop-cluster.sh stops it)"; exit 1
fi
docker run --rm --init --network bridge --cgroupns=host \
    --cap-add ALL --cap-drop SYS_RESOURCE --device-cgroup-rule 'a *:* rwm' --device /dev/kmsg \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --security-opt systempaths=unconfined \
    -v /sys/fs/cgroup:/sys/fs/cgroup -v /lib/modules:/lib/modules:ro \
    -v /var/lib/docker -v /var/lib/fnhost-containerd -v /var/lib/fnhost-kubelet \
    -v "$REPO/.git:/src.git:ro" \
    "$IMAGE" bash -c "git clone --quiet /src.git /root/fnhost && cd /root/fnhost && git checkout --quiet $commit \
        && bash .ci/run" >"$logfile" 2>&1
status=$?
set -e
elapsed=$(($(date +%s) - started))
tail -n 30 "$logfile"
result=$([ "$status" = 0 ] && echo PASSED || echo "FAILED (exit $status)")
summary="fresh-machine check of $commit: $result in $((elapsed / 60)) min $((elapsed % 60)) s ($stamp)"
echo "$summary" | tee -a "$STATE/results.txt"
exit "$status"
