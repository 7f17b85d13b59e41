#!/usr/bin/env python3
"""Instructions per request of fnhost builds, counted by valgrind's callgrind.

Wall-clock rates on this 2-core machine scatter by tens of percent between rounds; an
instruction count does not (callgrind counts the same work the same way whatever else the
machine is doing). Each binary serves the same function in pod mode under callgrind, takes
N, then 2N sequential GETs on one keep-alive connection from a client outside valgrind, and
is stopped with SIGTERM; the difference of the two totals divided by N is what one request
costs, start-up and shutdown cancelled out. Binaries alternate, so each pair is measured
back to back.

    benches/instructions.py --function benches/functions/libhello.so --handler libhello.handle \\
        --runtime native1 NAME=BINARY [NAME=BINARY ...]

Prints one line per binary: instructions per request (median over --rounds).
"""

import argparse
import http.client
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile

READY = "fnhost: listening http="


def serve_and_count(binary, args, requests):
    """Total instructions of one fnhost run that served `requests` GETs."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", tmp),
            "MOD_NAME": args.module,
            "FUNC_HANDLER": args.handler_name,
            "FUNC_RUNTIME": args.runtime,
            "KUBELESS_INSTALL_VOLUME": args.folder,
            "FUNC_PORT": "0",
            "FNHOST_LISTEN_ADDR": "127.0.0.1",
            "FNHOST_CACHE_DIR": os.path.join(tmp, "cache"),
        }
        command = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
            "--dump-instr=no", "--compress-strings=no", binary,
        ]
        server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        addr = None
        for line in server.stdout:
            if line.startswith(READY):
                addr = line[len(READY):].strip()
                break
        if addr is None:
            server.kill()
            sys.exit(f"{binary} did not become ready under valgrind")
        host, port = addr.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=120)
        for _ in range(requests):
            connection.request("GET", "/")
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                sys.exit(f"{binary} answered {response.status}")
        connection.close()
        server.send_signal(signal.SIGTERM)
        # The access log keeps stdout busy; drain it so the server can exit.
        server.stdout.read()
        server.wait(timeout=300)
        return total_instructions(out)


def total_instructions(path):
    with open(path) as f:
        for line in f:
            match = re.match(r"(summary|totals): (\d+)", line)
            if match:
                return int(match.group(2))
    sys.exit(f"no totals in {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--function", required=True, help="the function file")
    parser.add_argument("--handler", required=True, help="MODULE.NAME")
    parser.add_argument("--runtime", required=True, help="runtime id, e.g. native1")
    parser.add_argument("--requests", type=int, default=2000, help="N (default 2000)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("binaries", nargs="+", help="NAME=PATH")
    args = parser.parse_args()
    args.folder = os.path.dirname(os.path.abspath(args.function))
    args.module, args.handler_name = args.handler.split(".", 1)
    targets = [b.split("=", 1) for b in args.binaries]
    per_request = {name: [] for name, _ in targets}
    for round_no in range(args.rounds):
        for name, binary in targets:
            once = serve_and_count(binary, args, args.requests)
            twice = serve_and_count(binary, args, 2 * args.requests)
            per_request[name].append((twice - once) / args.requests)
            print(f"round {round_no + 1}: {name}: {per_request[name][-1]:.0f} instructions/request",
                  file=sys.stderr)
    print(f"| build | instructions per request (median of {args.rounds}) | rounds |")
    print("|---|---:|---|")
    for name, values in per_request.items():
        rounds = ", ".join(f"{v:.0f}" for v in values)
        print(f"| {name} | {statistics.median(values):.0f} | {rounds} |")


if __name__ == "__main__":
    main()
