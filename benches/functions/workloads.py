"""The Python workloads of benches/python.sh: what real functions do besides hello world.

- cpu: pure-Python work, about 2 ms a call on this machine's CPython 3.11;
- wait: waits 50 ms without using the CPU, as a call to a database or another service does;
- echo: returns the JSON document it was sent (the benchmark sends 64 KiB).
"""

import time


def cpu(event, context):
    total = 0
    for i in range(50000):
        total += i * i % 7
    return str(total)


def wait(event, context):
    time.sleep(0.05)
    return "waited"


def echo(event, context):
    return event["data"]
