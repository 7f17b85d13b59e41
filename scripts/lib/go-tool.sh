# Sourced by the scripts that build a Go tool from the Go module proxy with `go install`
# (unmodified, static, stripped), cached by version.
#
#   go_install_cached NAME PACKAGE VERSION BIN_DIR
#
# builds PACKAGE@VERSION into BIN_DIR/NAME unless BIN_DIR/.NAME.version already says VERSION.
# Progress goes to stderr; the binary's path to stdout.
go_install_cached() {
    local name=$1 package=$2 version=$3 bin_dir=$4
    local stamp="$bin_dir/.$name.version"
    if [ -x "$bin_dir/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
        echo "$bin_dir/$name"; return 0
    fi
    command -v go >/dev/null || { echo "build-$name: go is not installed" >&2; return 1; }
    mkdir -p "$bin_dir"
    echo "build-$name: building $package@$version with $(go version)" >&2
    GOTOOLCHAIN=local GOFLAGS="-buildvcs=false" CGO_ENABLED=0 GOBIN="$bin_dir" \
        go install -trimpath -ldflags "-s -w" "$package@$version"
    local built
    built="$bin_dir/$(basename "${package%/v[0-9]*}")"
    [ "$built" = "$bin_dir/$name" ] || mv "$built" "$bin_dir/$name"
    echo "$version" >"$stamp"
    echo "$bin_dir/$name"
}
