#!/usr/bin/env python3
"""The attack figures of issue 30 against a running release server (scripts/measure-attacks.sh
starts one): disk growth under refused-request floods, another client's /predict latency while
one client floods 64-image batches. Standard library only; each simulated client binds its own
loopback address (127.0.0.x), so the server sees distinct clients."""

import http.client
import json
import os
import statistics
import sys
import threading
import time
import uuid

PORT = int(os.environ["PORT"])
DATA_ROOT = os.environ["DATA_ROOT"]
LOG = os.environ["SERVER_LOG"]
SLICE = open(os.environ["SLICE_JPEG"], "rb").read()


def connect(source):
    return http.client.HTTPConnection("127.0.0.1", PORT, timeout=60, source_address=(source, 0))


def disk_bytes():
    """Bytes of the server's log and of each database file (app.db, its WAL and shared memory)."""
    sizes = {"log": os.path.getsize(LOG)}
    for root, _, files in os.walk(DATA_ROOT):
        for f in files:
            if f.startswith("app.db"):
                sizes[f] = os.path.getsize(os.path.join(root, f))
    return sizes


def refused_flood(seconds=30, clients=10):
    counts = {}
    stop = time.time() + seconds

    def client(n):
        source = f"127.0.0.{10 + n}"
        conn = connect(source)
        seen = {}
        path = "/retrain/trigger" + "A" * 2000
        while time.time() < stop:
            try:
                conn.request("POST", path, body=b"{}", headers={"content-type": "application/json", "x-junk": "B" * 2000})
                response = conn.getresponse()
                response.read()
                seen[response.status] = seen.get(response.status, 0) + 1
            except (ConnectionError, http.client.HTTPException):
                conn = connect(source)
        counts[source] = seen

    before = disk_bytes()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(1.5)  # let the WAL and the log settle
    after = disk_bytes()
    grown = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    total = {}
    for seen in counts.values():
        for status, n in seen.items():
            total[status] = total.get(status, 0) + n
    return grown, total


def multipart(fields):
    boundary = uuid.uuid4().hex
    body = b""
    for name, filename, data in fields:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
                 "Content-Type: image/jpeg\r\n\r\n").encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def predict_latency_under_batch_flood(seconds=30):
    stop = time.time() + seconds
    batches = [0]

    def flooder():
        body, content_type = multipart([("files", f"{i}.jpg", SLICE) for i in range(64)])
        conn = connect("127.0.0.2")
        while time.time() < stop:
            conn.request("POST", "/predict/batch", body=body, headers={"content-type": content_type})
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                batches[0] += 1

    floods = [threading.Thread(target=flooder) for _ in range(4)]
    for t in floods:
        t.start()
    time.sleep(2)
    body, content_type = multipart([("file", "one.jpg", SLICE)])
    conn = connect("127.0.0.3")
    latencies = []
    statuses = {}
    while time.time() < stop:
        started = time.perf_counter()
        conn.request("POST", "/predict", body=body, headers={"content-type": content_type})
        response = conn.getresponse()
        response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        time.sleep(0.1)
    for t in floods:
        t.join()
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    return statistics.median(latencies), p95, len(latencies), statuses, batches[0]


if __name__ == "__main__":
    which = sys.argv[1]
    if which == "refused":
        grown, statuses = refused_flood()
        print(json.dumps({"disk_growth_bytes": sum(grown.values()), "by_file": grown,
                          "answers": statuses}))
    else:
        p50, p95, n, statuses, batches = predict_latency_under_batch_flood()
        print(json.dumps({"predict_p50_ms": round(p50, 1), "predict_p95_ms": round(p95, 1),
                          "predictions": n, "answers": statuses, "flood_batches_answered": batches}))
