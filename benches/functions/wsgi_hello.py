"""The peer for Granian: the same hello.foo behind the thinnest WSGI adapter that still
builds the Kubeless event and context, as any Kubeless-compatible host has to."""

from hello import foo

CONTEXT = {
    "function-name": foo,
    "timeout": 180.0,
    "runtime": "python3.11",
    "memory-limit": None,
}


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    event = {
        "data": body,
        "event-id": environ.get("HTTP_EVENT_ID"),
        "event-type": environ.get("HTTP_EVENT_TYPE"),
        "event-time": environ.get("HTTP_EVENT_TIME"),
        "event-namespace": environ.get("HTTP_EVENT_NAMESPACE"),
        "extensions": {"request": environ},
    }
    payload = foo(event, CONTEXT).encode()
    start_response("200 OK", [("Content-Type", "text/html; charset=UTF-8"), ("Content-Length", str(len(payload)))])
    return [payload]
