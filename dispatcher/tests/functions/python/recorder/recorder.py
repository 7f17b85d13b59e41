# An upstream-style Kubeless Python function for the trigger tests. Every attempt is written
# to $RECORD_FILE as a JSON line: the event's headers, the data, the attempt number of this
# event-id, and whether it succeeds. The message's data steers it:
#   {"fail": k}          the first k attempts of this message fail (an exception: 500)
#   {"always_fail": true} every attempt fails
#   {"slow": k}          the first k attempts sleep $SLOW_SECONDS (past the function's
#                        timeout: fnhost answers 408 and nothing is written for them)
import json
import os
import threading
import time

_attempts = {}
_lock = threading.Lock()


def _record(event, attempt, ok):
    data = event["data"]
    if isinstance(data, bytes):  # a body that is not JSON arrives as bytes, as upstream
        data = data.decode("utf-8", "replace")
    line = json.dumps({
        "id": event["event-id"],
        "namespace": event["event-namespace"],
        "type": event["event-type"],
        "time": event["event-time"],
        "data": data,
        "attempt": attempt,
        "ok": ok,
    })
    with _lock:
        with open(os.environ["RECORD_FILE"], "a") as f:
            f.write(line + "\n")


def handle(event, context):
    with _lock:
        attempt = _attempts.get(event["event-id"], 0) + 1
        _attempts[event["event-id"]] = attempt
    data = event["data"]
    if isinstance(data, dict):
        if data.get("always_fail") or attempt <= data.get("fail", 0):
            _record(event, attempt, False)
            raise RuntimeError("attempt %d fails" % attempt)
        if attempt <= data.get("slow", 0):
            time.sleep(float(os.environ.get("SLOW_SECONDS", "3")))
    _record(event, attempt, True)
    return "recorded"
