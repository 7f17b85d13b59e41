#!/usr/bin/env bash
# Stops the cluster of start-cluster.sh and leaves nothing running: every pod's containers,
# kubelet, kube-proxy (and its iptables rules), the control plane, CoreDNS, metrics-server,
# HAProxy Ingress and its haproxy, containerd, and the
# dockerd that the image scripts started. Unmounts the pods' volumes and removes their network
# namespaces. Idempotent. The image caches (containerd's and Docker's) are kept.
#
# Usage: stop-cluster.sh [--quiet] [--keep-dockerd]
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/images/lib.sh
. scripts/images/lib.sh

BIN=${FNHOST_K8S_BIN:-$HOME/.cache/fnhost-k8s/bin}
RUN=$FNHOST_NODE_STATE/run
KUBELET_ROOT=/var/lib/fnhost-kubelet
quiet=0 keep_dockerd=0
for arg in "$@"; do
    case "$arg" in
        --quiet) quiet=1 ;;
        --keep-dockerd) keep_dockerd=1 ;;
        *) echo "usage: $0 [--quiet] [--keep-dockerd]" >&2; exit 2 ;;
    esac
done
say() { [ "$quiet" = 1 ] || log "$*"; }

# Sends SIGTERM to the daemon NAME of $RUN (then SIGKILL after 10 s) and waits for it to end.
stop_daemon() {
    local name=$1 pid i
    pid=$(cat "$RUN/$name.pid" 2>/dev/null) || return 0
    rm -f "$RUN/$name.pid"
    kill -0 "$pid" 2>/dev/null || return 0
    say "stopping $name ($pid)"
    kill "$pid" 2>/dev/null
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null
}

stop_daemon kubelet
if containerd_up; then
    ctr_k8s() { ctr --address "$FNHOST_CONTAINERD_SOCK" -n k8s.io "$@"; }
    for task in $(ctr_k8s tasks ls -q 2>/dev/null); do
        ctr_k8s tasks kill -s SIGKILL "$task" >/dev/null 2>&1
    done
    for task in $(ctr_k8s tasks ls -q 2>/dev/null); do
        for ((i = 0; i < 20; i++)); do ctr_k8s tasks delete "$task" >/dev/null 2>&1 && break; sleep 0.25; done
    done
    containers=$(ctr_k8s containers ls -q 2>/dev/null)
    [ -z "$containers" ] || say "removing $(echo "$containers" | wc -l) containers"
    for c in $containers; do ctr_k8s containers delete "$c" >/dev/null 2>&1; done
fi
for name in haproxy-ingress metrics-server kube-proxy scheduler kcm coredns apiserver etcd containerd; do stop_daemon "$name"; done
# The haproxy processes HAProxy Ingress started (their configuration is under its prefix).
pkill -f "/var/lib/fnhost-ingress/" 2>/dev/null
# Shims of containers whose containerd is gone.
pkill -9 -f "containerd-shim-runc-v2 .*-address $FNHOST_CONTAINERD_SOCK" 2>/dev/null
[ -x "$BIN/kube-proxy" ] && "$BIN/kube-proxy" --cleanup >/dev/null 2>&1
for ns in $(ip netns list 2>/dev/null | awk '/^cni-/ {print $1}'); do ip netns delete "$ns" 2>/dev/null; done
# Mounts of pod volumes and of containerd's state, deepest first.
for root in "$KUBELET_ROOT" "$FNHOST_CONTAINERD_STATE" "$FNHOST_CONTAINERD_ROOT"; do
    awk -v r="$root" '$2 ~ "^"r {print $2}' /proc/mounts | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
done
rm -rf "$KUBELET_ROOT" "$RUN/etcd" /var/lib/cni/networks/fnhost-pods /var/lib/fnhost-ingress
if [ "$keep_dockerd" = 0 ] && [ -f "$FNHOST_NODE_STATE/dockerd.pid" ]; then
    RUN=$FNHOST_NODE_STATE stop_daemon dockerd
fi
say "the cluster is stopped"
exit 0
