#!/usr/bin/env bash
# Builds fnhost's images from the repository's Dockerfiles (images/<name>/Dockerfile) with
# Docker + BuildKit, cached by content, and loads them into the node's containerd (namespace
# k8s.io) when it runs, so kubelet finds them without a registry.
#
# Usage: scripts/images/build.sh NAME...   (NAME: a folder of images/, e.g. python3.11, reconciler)
#        scripts/images/build.sh --all     (every image whose base this machine can stand in for)
#
# Cache: an image is rebuilt only when its inputs changed: its Dockerfile, Cargo.toml,
# Cargo.lock and the folders of the workspace crates its binary is built from (read from
# `cargo metadata`). The key is the image's label `fnhost.inputs`. A rebuild reuses the cargo
# registry and target folder in BuildKit cache mounts, so it compiles only what changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/images/lib.sh
. scripts/images/lib.sh

# Images whose base image cannot be made here (docs/compat.md says why).
UNBUILDABLE="python3.9 python3.10 python3.12"

# The tag of images/<name>, read from the Dockerfile's own build comment.
image_tag() {
    sed -n 's/^#.*docker build -f images\/'"$1"'\/Dockerfile -t \([^ ]*\) \.$/\1/p' "images/$1/Dockerfile" | head -n1
}

# The public images images/<name>/Dockerfile starts FROM (not its own stages).
base_images() {
    awk '$1 == "FROM" { if ($3 == "AS") stage[$4] = 1; if (!($2 in stage)) print $2 }' "images/$1/Dockerfile" | sort -u
}

# The package images/<name> builds (`cargo build ... -p PACKAGE`).
image_package() {
    sed -n 's/.*cargo build --release --locked -p \([^ ]*\).*/\1/p' "images/$1/Dockerfile" | head -n1
}

# The workspace folders (relative) of PACKAGE and every workspace crate it depends on.
package_folders() {
    local package=$1
    cargo metadata --format-version 1 --no-deps | python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
root = meta["workspace_root"]
by_dir = {os.path.dirname(p["manifest_path"]): p for p in meta["packages"]}
by_name = {p["name"]: p for p in meta["packages"]}
seen, todo = set(), [by_name[sys.argv[1]]] if sys.argv[1] in by_name else []
while todo:
    p = todo.pop()
    d = os.path.dirname(p["manifest_path"])
    if d in seen:
        continue
    seen.add(d)
    todo.extend(by_dir[x["path"]] for x in p["dependencies"] if x.get("path") in by_dir and x.get("kind") != "dev")
for d in sorted(seen):
    print(os.path.relpath(d, root))
' "$package"
}

# A hash of everything images/<name> is built from.
inputs_hash() {
    local name=$1 package folders
    package=$(image_package "$name")
    mapfile -t folders < <(package_folders "$package")
    ((${#folders[@]})) || { log "images/$name: no workspace crates found for $package"; exit 1; }
    {
        sha256sum "images/$name/Dockerfile" Cargo.toml Cargo.lock
        git ls-files -z -- "${folders[@]}" | xargs -0 sha256sum
    } | sha256sum | cut -c1-16
}

build_one() {
    local name=$1 tag hash
    tag=$(image_tag "$name")
    [ -n "$tag" ] || { log "images/$name/Dockerfile names no tag"; exit 1; }
    hash=$(inputs_hash "$name")
    if [ "$("$DOCKER" image inspect -f '{{ index .Config.Labels "fnhost.inputs" }}' "$tag" 2>/dev/null)" = "$hash" ]; then
        log "$tag is up to date (inputs $hash)"
    else
        log "building $tag from images/$name/Dockerfile (inputs $hash)"
        local started=$SECONDS
        DOCKER_BUILDKIT=1 "$DOCKER" build --network host --progress plain \
            --label "fnhost.inputs=$hash" -f "images/$name/Dockerfile" -t "$tag" . \
            >"$FNHOST_NODE_STATE/build-$name.log" 2>&1 || {
            tail -n 40 "$FNHOST_NODE_STATE/build-$name.log" >&2
            log "building $tag failed; the whole log is $FNHOST_NODE_STATE/build-$name.log"
            exit 1
        }
        log "built $tag in $((SECONDS - started)) s"
    fi
    load_into_containerd "$tag"
}

main() {
    local names=()
    if [ "${1:-}" = --all ]; then
        local d
        for d in images/*/; do
            d=$(basename "$d")
            case " $UNBUILDABLE " in *" $d "*) log "skipping images/$d: its base image cannot be built here (docs/compat.md)"; continue ;; esac
            names+=("$d")
        done
    else
        names=("$@")
    fi
    ((${#names[@]})) || { echo "usage: $0 NAME... | --all" >&2; exit 2; }
    mkdir -p "$FNHOST_NODE_STATE"
    need_packages docker.io
    ensure_dockerd
    local name bases=()
    for name in "${names[@]}"; do
        [ -f "images/$name/Dockerfile" ] || { log "no images/$name/Dockerfile"; exit 2; }
        mapfile -t -O "${#bases[@]}" bases < <(base_images "$name")
    done
    scripts/images/base-images.sh "${bases[@]}"
    for name in "${names[@]}"; do build_one "$name"; done
}

main "$@"
