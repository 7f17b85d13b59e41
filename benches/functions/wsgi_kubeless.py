"""The peer for Granian in the load benchmarks: the function named by BENCH_HANDLER
(`module:function`, e.g. `hello:foo`, `workloads:cpu`) behind the thinnest WSGI adapter that
still builds the Kubeless event and context as fnhost does (JSON bodies parsed, dict answers
sent as JSON)."""

import importlib
import json
import os

_MODULE, _FUNCTION = os.environ["BENCH_HANDLER"].split(":")
HANDLER = getattr(importlib.import_module(_MODULE), _FUNCTION)

CONTEXT = {
    "function-name": HANDLER,
    "timeout": 180.0,
    "runtime": "python3.11",
    "memory-limit": None,
}


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    data = body
    if environ.get("CONTENT_TYPE", "").startswith("application/json"):
        data = json.loads(body)
    event = {
        "data": data,
        "event-id": environ.get("HTTP_EVENT_ID"),
        "event-type": environ.get("HTTP_EVENT_TYPE"),
        "event-time": environ.get("HTTP_EVENT_TIME"),
        "event-namespace": environ.get("HTTP_EVENT_NAMESPACE"),
        "extensions": {"request": environ},
    }
    result = HANDLER(event, CONTEXT)
    if isinstance(result, str):
        payload, content_type = result.encode(), "text/html; charset=UTF-8"
    elif isinstance(result, bytes):
        payload, content_type = result, "application/octet-stream"
    else:
        payload, content_type = json.dumps(result).encode(), "application/json"
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(payload)))])
    return [payload]
