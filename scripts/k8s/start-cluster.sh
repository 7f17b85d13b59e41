#!/usr/bin/env bash
# Starts a single-node Kubernetes v1.20.2 cluster on this machine: etcd, kube-apiserver,
# kube-controller-manager (every controller), kube-scheduler, kubelet over containerd's CRI
# plugin, kube-proxy (iptables), CNI (bridge, host-local, portmap, firewall) and CoreDNS for
# `*.svc.cluster.local`. Pods reach the apiserver through the `kubernetes` Service. Prints the
# path of an admin kubeconfig. Stop everything with scripts/k8s/stop-cluster.sh.
#
# Installs what it needs (Debian packages, the Kubernetes binaries, CoreDNS, the pause image),
# builds nothing twice (caches under ~/.cache), and starts from a clean state each time: a
# cluster left running is stopped first. Logs: $FNHOST_NODE_STATE/run/*.log.
#
# Env: FNHOST_K8S_BIN (Kubernetes and CoreDNS binaries), FNHOST_NODE_STATE (state and logs,
#      default ~/.cache/fnhost-node), NODE_IP (default: the address of the default route).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/images/lib.sh
. scripts/images/lib.sh

BIN=${FNHOST_K8S_BIN:-$HOME/.cache/fnhost-k8s/bin}
RUN=$FNHOST_NODE_STATE/run
KUBELET_ROOT=/var/lib/fnhost-kubelet
ETCD_PORT=22379
API_PORT=26443
METRICS_PORT=24443
INGRESS_HTTP_PORT=28080   # HAProxy Ingress, on 127.0.0.1 only
INGRESS_HTTPS_PORT=28443
INGRESS_ROOT=/var/lib/fnhost-ingress
SERVICE_CIDR=10.96.0.0/16
POD_CIDR=10.88.0.0/16
NODE_NAME=fnhost-node
export PATH="$BIN:$PATH"

need_packages containerd runc containernetworking-plugins iptables iproute2 kmod conntrack ethtool socat \
    etcd-server openssl curl docker.io mmdebstrap haproxy lua-json
scripts/k8s/build-control-plane.sh
scripts/k8s/build-coredns.sh >/dev/null
scripts/k8s/build-metrics-server.sh >/dev/null
HAPROXY_INGRESS=$(scripts/k8s/build-haproxy-ingress.sh)
scripts/k8s/stop-cluster.sh --quiet --keep-dockerd

NODE_IP=${NODE_IP:-$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')}
[ -n "$NODE_IP" ] || { log "no IPv4 address on a default route; set NODE_IP"; exit 1; }
mkdir -p "$RUN/certs" "$RUN/cni" "$RUN/etcd" "$KUBELET_ROOT" "$FNHOST_CONTAINERD_ROOT" "$FNHOST_CONTAINERD_STATE"
echo "$NODE_IP" >"$RUN/node-ip"

# Runs a daemon in the background, its pid in $RUN/NAME.pid and its output in $RUN/NAME.log.
daemon() {
    local name=$1
    shift
    "$@" >"$RUN/$name.log" 2>&1 &
    echo $! >"$RUN/$name.pid"
}

# Waits up to $2 seconds for command $3... to succeed; on failure, shows $1's log and exits.
wait_for() {
    local name=$1 timeout=$2 i
    shift 2
    for ((i = 0; i < timeout * 4; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null || break
        sleep 0.25
    done
    tail -n 30 "$RUN/$name.log" >&2
    log "$name did not become ready; its log: $RUN/$name.log"
    exit 1
}

sysctl -qw net.ipv4.ip_forward=1
sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true

log "starting containerd (CRI, root $FNHOST_CONTAINERD_ROOT)"
cat >"$RUN/containerd.toml" <<EOF
version = 2
root = "$FNHOST_CONTAINERD_ROOT"
state = "$FNHOST_CONTAINERD_STATE"
[grpc]
  address = "$FNHOST_CONTAINERD_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Root here lacks CAP_SYS_RESOURCE: a negative oom_score_adj cannot be set.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN/cni"
EOF
cat >"$RUN/cni/10-fnhost.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "fnhost-pods",
  "plugins": [
    {"type": "bridge", "bridge": "fnhost0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "firewall"}
  ]
}
EOF
daemon containerd containerd --config "$RUN/containerd.toml"
wait_for containerd 30 ctr --address "$FNHOST_CONTAINERD_SOCK" version

# Images kubelet needs from the start: the pause image and the provision image.
ensure_dockerd
scripts/images/base-images.sh "$PAUSE_IMAGE" fnhost/unzip:local debian:bookworm-slim >/dev/null
load_into_containerd "$PAUSE_IMAGE"
load_into_containerd fnhost/unzip:local

log "starting etcd and kube-apiserver on $NODE_IP:$API_PORT"
openssl genrsa -out "$RUN/certs/sa.key" 2048 2>/dev/null
openssl rsa -in "$RUN/certs/sa.key" -pubout -out "$RUN/certs/sa.pub" 2>/dev/null
# The aggregation layer's front proxy (metrics.k8s.io is served by metrics-server through it):
# a CA of its own and the client certificate the apiserver presents to aggregated servers.
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=fnhost-front-proxy-ca" \
    -keyout "$RUN/certs/front-proxy-ca.key" -out "$RUN/certs/front-proxy-ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=front-proxy-client" \
    -keyout "$RUN/certs/front-proxy-client.key" -out "$RUN/certs/front-proxy-client.csr" 2>/dev/null
openssl x509 -req -days 30 -in "$RUN/certs/front-proxy-client.csr" \
    -CA "$RUN/certs/front-proxy-ca.crt" -CAkey "$RUN/certs/front-proxy-ca.key" -CAcreateserial \
    -extfile <(printf 'extendedKeyUsage=clientAuth') -out "$RUN/certs/front-proxy-client.crt" 2>/dev/null
TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$TOKEN,admin,admin,system:masters" >"$RUN/certs/tokens.csv"
daemon etcd etcd --data-dir "$RUN/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))"
daemon apiserver kube-apiserver --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=0.0.0.0 --advertise-address="$NODE_IP" --secure-port="$API_PORT" \
    --insecure-port=0 --cert-dir="$RUN/certs" --token-auth-file="$RUN/certs/tokens.csv" \
    --authorization-mode=RBAC --service-cluster-ip-range="$SERVICE_CIDR" \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$RUN/certs/sa.pub" \
    --service-account-signing-key-file="$RUN/certs/sa.key" \
    --allow-privileged=true --feature-gates=RemoveSelfLink=false \
    --kubelet-preferred-address-types=InternalIP,Hostname \
    --requestheader-client-ca-file="$RUN/certs/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-username-headers=X-Remote-User \
    --proxy-client-cert-file="$RUN/certs/front-proxy-client.crt" \
    --proxy-client-key-file="$RUN/certs/front-proxy-client.key" \
    --enable-aggregator-routing=true
KUBECONFIG=$RUN/kubeconfig
cat >"$KUBECONFIG" <<KC
apiVersion: v1
kind: Config
clusters: [{name: fnhost-node, cluster: {server: "https://$NODE_IP:$API_PORT", certificate-authority: "$RUN/certs/apiserver.crt"}}]
users: [{name: admin, user: {token: "$TOKEN"}}]
contexts: [{name: fnhost-node, context: {cluster: fnhost-node, user: admin, namespace: default}}]
current-context: fnhost-node
KC
export KUBECONFIG
wait_for apiserver 60 kubectl get --raw /readyz

log "starting kube-controller-manager, kube-scheduler and CoreDNS"
daemon kcm kube-controller-manager --kubeconfig="$KUBECONFIG" --leader-elect=false \
    --port=0 --secure-port=0 --controllers='*' --use-service-account-credentials=false \
    --service-account-private-key-file="$RUN/certs/sa.key" \
    --root-ca-file="$RUN/certs/apiserver.crt" \
    --horizontal-pod-autoscaler-sync-period=5s
daemon scheduler kube-scheduler --kubeconfig="$KUBECONFIG" --leader-elect=false --port=0 \
    --secure-port=0
cat >"$RUN/Corefile" <<EOF
.:53 {
    bind $NODE_IP
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG fnhost-node
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 5
}
EOF
daemon coredns coredns -conf "$RUN/Corefile"

log "starting kubelet (node $NODE_NAME, $NODE_IP) and kube-proxy"
daemon kubelet kubelet --kubeconfig="$KUBECONFIG" --hostname-override="$NODE_NAME" \
    --node-ip="$NODE_IP" --root-dir="$KUBELET_ROOT" \
    --container-runtime=remote --container-runtime-endpoint="unix://$FNHOST_CONTAINERD_SOCK" \
    --image-service-endpoint="unix://$FNHOST_CONTAINERD_SOCK" \
    --pod-infra-container-image="$PAUSE_IMAGE" --cgroup-driver=cgroupfs \
    --fail-swap-on=false --cluster-dns="$NODE_IP" --cluster-domain=cluster.local \
    --anonymous-auth=true --authorization-mode=AlwaysAllow --read-only-port=0 \
    --volume-plugin-dir="$KUBELET_ROOT/volume-plugins" \
    --eviction-hard='memory.available<100Mi,nodefs.available<1%,imagefs.available<1%' \
    --image-gc-high-threshold=100 --image-gc-low-threshold=99 \
    --serialize-image-pulls=false --v=1
daemon kube-proxy kube-proxy --kubeconfig="$KUBECONFIG" --hostname-override="$NODE_NAME" \
    --proxy-mode=iptables --cluster-cidr="$POD_CIDR" --conntrack-max-per-core=0 \
    --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 \
    --metrics-bind-address=127.0.0.1:10249

log "starting metrics-server on $NODE_IP:$METRICS_PORT (metrics.k8s.io, for the HPA controller)"
mkdir -p "$RUN/metrics-server"
daemon metrics-server metrics-server --kubeconfig="$KUBECONFIG" \
    --authentication-kubeconfig="$KUBECONFIG" --authorization-kubeconfig="$KUBECONFIG" \
    --bind-address="$NODE_IP" --secure-port="$METRICS_PORT" --cert-dir="$RUN/metrics-server" \
    --kubelet-insecure-tls --kubelet-preferred-address-types=InternalIP \
    --kubelet-use-node-status-port --metric-resolution=15s
wait_for metrics-server 60 curl -sfk "https://$NODE_IP:$METRICS_PORT/livez"
# metrics-server runs on the host: a Service without selector whose Endpoints name the host.
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: metrics-server, namespace: kube-system}
spec: {ports: [{name: https, port: 443, targetPort: $METRICS_PORT, protocol: TCP}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: metrics-server, namespace: kube-system}
subsets: [{addresses: [{ip: "$NODE_IP"}], ports: [{name: https, port: $METRICS_PORT, protocol: TCP}]}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  service: {name: metrics-server, namespace: kube-system, port: 443}
  group: metrics.k8s.io
  version: v1beta1
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
EOF

# The Ingress controller: HAProxy Ingress on the host, serving the Ingresses of class `nginx`
# (what the reconciler writes for an HTTPTrigger without a gateway, as upstream did), on
# 127.0.0.1 only, routing to the pods' IPs.
log "starting HAProxy Ingress (class nginx) on 127.0.0.1:$INGRESS_HTTP_PORT"
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: haproxy-ingress, namespace: kube-system}
data:
  http-port: "$INGRESS_HTTP_PORT"
  https-port: "$INGRESS_HTTPS_PORT"
  bind-ip-addr-http: "127.0.0.1"
  stats-port: "21936"
  bind-ip-addr-stats: "127.0.0.1"
  healthz-port: "21253"
  bind-ip-addr-healthz: "127.0.0.1"
EOF
# Its file prefix must hold no dot-folder (it mangles `/.` in paths): not under ~/.cache.
rm -rf "$INGRESS_ROOT"
mkdir -p "$INGRESS_ROOT/etc/haproxy/lua"
cp "$HAPROXY_INGRESS"/rootfs/etc/lua/* "$INGRESS_ROOT/etc/haproxy/lua/"
(cd "$HAPROXY_INGRESS" && daemon haproxy-ingress ./bin/haproxy-ingress-controller \
    --kubeconfig="$KUBECONFIG" --local-filesystem-prefix="$INGRESS_ROOT" \
    --update-status=false --watch-gateway=false --ingress-class=nginx \
    --configmap=kube-system/haproxy-ingress --healthz-port=21254)
wait_for haproxy-ingress 60 curl -sf "http://127.0.0.1:21254/healthz"

node_ready() {
    [ "$(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
wait_for kubelet 90 node_ready
default_service_account() { kubectl -n default get serviceaccount default; }
wait_for kcm 60 default_service_account
log "node $NODE_NAME is Ready"
echo "$KUBECONFIG"
