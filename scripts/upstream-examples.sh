#!/usr/bin/env bash
# Runs upstream Kubeless's own example functions, unmodified, with `fnhost run`, and checks each
# with the regex its Makefile's verify target uses (kubeless/runtimes, stable/*/examples).
#
#   scripts/upstream-examples.sh RUNTIMES_CHECKOUT [FNHOST_BINARY]
#
# RUNTIMES_CHECKOUT is a work tree of the kubeless/runtimes repository (this project never
# commits its code); FNHOST_BINARY defaults to the debug build in $CARGO_TARGET_DIR. Examples
# that need what this network lacks (the public internet, rubygems.org, NuGet, PHP or
# Ballerina runtimes) are listed as not run, with the reason. Not part of .ci/run.
set -uo pipefail
EXAMPLES=${1:?usage: upstream-examples.sh RUNTIMES_CHECKOUT [FNHOST_BINARY]}/stable
FNHOST=${2:-${CARGO_TARGET_DIR:-$HOME/.cache/fnhost/target}/debug/fnhost}
[ -d "$EXAMPLES" ] || { echo "no stable/ folder in $1" >&2; exit 2; }
[ -x "$FNHOST" ] || { echo "no fnhost binary at $FNHOST (cargo build -p fnhost-proxy)" >&2; exit 2; }
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/fnhost-upstream.XXXXXX")
passed=0; failed=0; differs=0
JSON=(-H 'Content-Type: application/json')

# example NAME FILE HANDLER REGEX [--deps FILE] [-- CURL ARGS...]: serve FILE, call it once, and
# match the body (or, as upstream's log checks do, the log) against REGEX. With KNOWN="why" in
# the environment a mismatch is reported as a known difference instead of a failure.
example() {
    local name=$1 file=$2 handler=$3 regex=$4; shift 4
    local run_args=() curl_args=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do run_args+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift && curl_args=("$@")
    local log="$LOGS/$name.log"
    (cd "$EXAMPLES" && exec "$FNHOST" run "$file" --handler "$handler" --port 0 "${run_args[@]}") >"$log" 2>&1 &
    local pid=$! addr=""
    for _ in $(seq 1 1200); do
        addr=$(grep -o 'listening http=[0-9.:]*' "$log" | cut -d= -f2)
        [ -n "$addr" ] || ! kill -0 "$pid" 2>/dev/null && break
        sleep 0.5
    done
    if [ -z "$addr" ]; then
        echo "FAILED  $name: did not start: $(tail -n 3 "$log" | tr '\n' ' ')"
        failed=$((failed + 1)); kill "$pid" 2>/dev/null; return
    fi
    local body
    body=$(curl -s -m 30 "${curl_args[@]}" "http://$addr/")
    sleep 0.5 # the function's own log lines
    if printf '%s' "$body" | grep -Eq "$regex" || grep -Eq "$regex" "$log"; then
        echo "ok      $name: $(printf '%s' "$body" | head -c 80)"
        passed=$((passed + 1))
    elif [ -n "${KNOWN:-}" ]; then
        echo "differs $name: /$regex/ not in [$(printf '%s' "$body" | head -c 200)]: $KNOWN"
        differs=$((differs + 1))
    else
        echo "FAILED  $name: /$regex/ not in [$(printf '%s' "$body" | head -c 200)] (log: $log)"
        failed=$((failed + 1))
    fi
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
}

echo hello > "$LOGS/upload.txt"
example python-helloget python/examples/helloget.py helloget.foo 'hello.world'
example python-hellowithdata python/examples/hellowithdata.py hellowithdata.handler 'it.*alive' -- "${JSON[@]}" -d '{"it-s": "alive"}'
example python-preload python/examples/preload.py preload.handler 'hello world' --timeout 3
example python-request python/examples/request.py request.handler 'Hola John' -- \
    -H 'Say-Hello-To: John' -F category=docs -F "upload=@$LOGS/upload.txt" --url-query greeting=Hola
example nodejs-helloget nodejs/examples/helloget.js helloget.foo 'hello.world'
example nodejs-hellowithdata nodejs/examples/hellowithdata.js hellowithdata.handler 'it.*alive' -- "${JSON[@]}" -d '{"it-s": "alive"}'
KNOWN="Node.js with full ICU spells the zone of Date.toTimeString() out (Coordinated Universal Time); upstream's image said UTC" \
    example nodejs-hellowithdeps nodejs/examples/hellowithdeps.js helloget.handler 'hello.*world.*date.*UTC' \
    --deps nodejs/examples/package.json -- "${JSON[@]}" -d '{"hello": "world"}'
example nodejs-hellostream nodejs/examples/hellostream.js hellostream.foo 'hello.world' --deps nodejs/examples/package.json
example nodejs-multi nodejs/examples/index.js index.helloGet 'hello.world'
example nodejs-multipart nodejs/examples/hello-multipart.js hello-multipart.handler 'hello world' \
    --deps nodejs/examples/multipart-package.json -- -F 'prop=This is a normal prop' -F "file=@$EXAMPLES/nodejs/examples/resources/input.txt"
example go-helloget golang/examples/helloget.go helloget.Foo 'Hello.world'
example go-hellowithdata golang/examples/hellowithdata.go hellowithdata.Handler 'it.*alive' -- "${JSON[@]}" -d '{"it-s": "alive"}'
example go-hellowithdeps golang/examples/hellowithdeps.go helloget.Hello 'level=info msg=.*hello.*world' \
    --deps golang/examples/go.mod -- "${JSON[@]}" -d '{"hello": "world"}'
example ruby-helloget ruby/examples/helloget.rb helloget.foo 'hello.world'
example ruby-hellowithdata ruby/examples/hellowithdata.rb hellowithdata.handler 'it.*alive' -- "${JSON[@]}" -d '{"it-s": "alive"}'
example java-helloget java/examples/HelloGet.java Foo.foo 'Hello.world'
example java-hellowithdata java/examples/HelloWithData.java Foo.foo 'its.*alive' -- "${JSON[@]}" -d '{"its": "alive"}'
example java-hellowithdeps java/examples/HelloWithDeps.java Hello.sayHello '.*Hello.*world! Current local time is:' --deps java/examples/pom.xml
example dotnet-helloget dotnetcore/examples/helloget/helloget.cs module.handler 'hello.world'
example dotnet-hellowithdata dotnetcore/examples/hellowithdata/hellowithdata.cs module.handler 'it.*alive' -- "${JSON[@]}" -d '{"it-s": "alive"}'
example dotnet-fibonacci dotnetcore/examples/fibonacci/fibonacci.cs module.handler '^55$' -- -d 10

cat <<'EOF'
not run python hellowithdeps: fetches a public web page (no internet here)
not run ruby hellowithdeps: the `logging` gem needs rubygems.org
not run dotnetcore dependency-yaml, native-deps: NuGet packages (no NuGet here)
not run php/*, ballerina/*: no such runtime in fnhost
EOF
echo "$passed passed, $failed failed ($differs known differences)"
[ "$failed" = 0 ]
