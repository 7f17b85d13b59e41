# The message-trigger benchmark's function: a hello world that also notes how long each
# message took from its publishing (`t`, nanoseconds since the epoch, set by the publisher) to
# this call. Any call without `t` (the driver's GET) answers the percentiles since the last
# such call, and forgets them.
import json
import threading
import time

_latencies = []
_lock = threading.Lock()


def handle(event, context):
    data = event["data"]
    if isinstance(data, dict) and "t" in data:
        latency = time.time_ns() - data["t"]
        with _lock:
            _latencies.append(latency)
        return "hello world"
    with _lock:
        latencies = sorted(_latencies)
        _latencies.clear()
    if not latencies:
        return json.dumps({"count": 0})
    at = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] / 1000.0
    return json.dumps({"count": len(latencies), "p50_us": at(0.5), "p99_us": at(0.99)})
