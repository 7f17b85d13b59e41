# Shared by the image and node scripts: logging, apt installs and the daemons they need.
# shellcheck shell=bash

# The sandbox image kubelet v1.20 runs in every pod (its --pod-infra-container-image default).
PAUSE_IMAGE=k8s.gcr.io/pause:3.2
# The containerd that kubelet talks to, separate from the one dockerd starts for itself.
FNHOST_CONTAINERD_ROOT=${FNHOST_CONTAINERD_ROOT:-/var/lib/fnhost-containerd}
FNHOST_CONTAINERD_STATE=${FNHOST_CONTAINERD_STATE:-/run/fnhost-containerd}
FNHOST_CONTAINERD_SOCK=$FNHOST_CONTAINERD_STATE/containerd.sock
FNHOST_NODE_STATE=${FNHOST_NODE_STATE:-$HOME/.cache/fnhost-node}

log() { echo "$(basename "$0"): $*" >&2; }

# apt-get install the Debian packages that are not installed yet.
need_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# dockerd by hand (no systemd here); it keeps running for the image builds of later steps.
ensure_dockerd() {
    docker info >/dev/null 2>&1 && return 0
    mkdir -p "$FNHOST_NODE_STATE"
    log "starting dockerd (log: $FNHOST_NODE_STATE/dockerd.log)"
    nohup dockerd >"$FNHOST_NODE_STATE/dockerd.log" 2>&1 &
    echo $! >"$FNHOST_NODE_STATE/dockerd.pid"
    local _
    for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && return 0; sleep 0.5; done
    log "dockerd did not start; see $FNHOST_NODE_STATE/dockerd.log"
    exit 1
}

# Debian's docker.io client: it builds with BuildKit by itself (a newer client elsewhere on PATH
# may want a buildx plugin this machine does not have).
DOCKER=${DOCKER:-/usr/bin/docker}

containerd_up() {
    [ -S "$FNHOST_CONTAINERD_SOCK" ] && ctr --address "$FNHOST_CONTAINERD_SOCK" version >/dev/null 2>&1
}

# Copies a Docker image into the node's containerd (namespace k8s.io), unless the copy there
# is already this image. Does nothing while the node's containerd is not running: the node's
# start script loads the images again.
load_into_containerd() {
    local tag=$1 id stamp
    containerd_up || return 0
    id=$("$DOCKER" image inspect -f '{{.Id}}' "$tag")
    stamp="$FNHOST_CONTAINERD_ROOT/fnhost-loaded/$(echo "$tag" | tr '/:' '__')"
    if [ "$(cat "$stamp" 2>/dev/null)" = "$id" ] &&
        ctr --address "$FNHOST_CONTAINERD_SOCK" -n k8s.io images ls -q "name==$(full_name "$tag")" | grep -q .; then
        return 0
    fi
    log "loading $tag into the node's containerd"
    "$DOCKER" save "$tag" | ctr --address "$FNHOST_CONTAINERD_SOCK" -n k8s.io images import --no-unpack - >/dev/null
    mkdir -p "$(dirname "$stamp")"
    echo "$id" >"$stamp"
}

# The name containerd records for a Docker reference (docker.io/library/ prefixes).
full_name() {
    local ref=$1
    case "$ref" in
        */*/*) echo "$ref" ;;
        *.*/*) echo "$ref" ;;
        */*) echo "docker.io/$ref" ;;
        *) echo "docker.io/library/$ref" ;;
    esac
}
