#!/usr/bin/env python3
"""What keeping prediction slices costs a /predict request.

Starts two release servers on throw-away data roots: this build keeping slices for reviewers
(KEEP_PREDICTION_SLICES=true), and a baseline: `BASELINE_BINARY` (a build from before the feedback
loop, to measure all of it) or else this build with KEEP_PREDICTION_SLICES=false. Sends both the
same dataset slices one at a time, alternating between them so that a noisy machine slows both
alike, and prints the p50 and p95 client latency of each and the difference of the medians with a
95% bootstrap interval.

    DATA_DIR=../shared/data/brain-tumor-mri/train [BASELINE_BINARY=...] [BASELINE_KEEPS_SLICES=true] \
        python3 scripts/bench-feedback.py [requests]

Build first: cargo build --release -p brainscan.
"""

import http.client
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from release_server import BINARY, ROOT, multipart, start


def timed_predict(connection: http.client.HTTPConnection, name: str, data: bytes) -> float:
    body, content_type = multipart([(name, data)], "file", "image/jpeg")
    started = time.perf_counter()
    connection.request("POST", "/predict", body=body, headers={"Content-Type": content_type})
    response = connection.getresponse()
    response.read()
    elapsed = (time.perf_counter() - started) * 1000.0
    if response.status != 200:
        sys.exit(f"/predict answered {response.status}")
    return elapsed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    data_dir = Path(os.environ.get("DATA_DIR", ROOT.parent / "shared/data/brain-tumor-mri/train"))
    images = sorted(data_dir.glob("*/*.jpg"))
    if not images:
        sys.exit(f"no dataset images under {data_dir}: set DATA_DIR to the training folders")
    if not BINARY.exists():
        sys.exit(f"{BINARY} is missing: cargo build --release -p brainscan")
    random.seed(42)
    chosen = [(path.name, path.read_bytes()) for path in random.sample(images, requests)]
    roots = [tempfile.mkdtemp(), tempfile.mkdtemp()]
    baseline = Path(os.environ.get("BASELINE_BINARY", BINARY))
    # BASELINE_KEEPS_SLICES=true: the baseline keeps slices too, so only what else differs between
    # the builds is measured (drift signals, for one).
    baseline_keeps = os.environ.get("BASELINE_KEEPS_SLICES") == "true"
    servers = [start(8301, roots[0], BINARY, keep_slices=True),
               start(8302, roots[1], baseline, keep_slices=baseline_keeps)]
    try:
        connections = [http.client.HTTPConnection("127.0.0.1", port) for port in (8301, 8302)]
        for name, data in chosen[:20]:  # warm-up: allocator, page cache, the model's first batches
            for connection in connections:
                timed_predict(connection, name, data)
        kept, plain = [], []
        for index, (name, data) in enumerate(chosen):
            # Alternate which server goes first, so neither always follows the other's work.
            order = [(0, kept), (1, plain)] if index % 2 == 0 else [(1, plain), (0, kept)]
            for which, into in order:
                into.append(timed_predict(connections[which], name, data))
        time.sleep(1.0)
        kept_files = list((Path(roots[0]) / "uploads" / "slices").glob("*.png"))
        differences = []
        rng = random.Random(7)
        for _ in range(2000):
            a = [rng.choice(kept) for _ in kept]
            b = [rng.choice(plain) for _ in plain]
            differences.append(statistics.median(a) - statistics.median(b))
        differences.sort()
        print(f"{requests} requests each, alternating; {len(kept_files)} slices kept by the first server")
        print(f"keeping slices: p50 {statistics.median(kept):.2f} ms, p95 {percentile(kept, 0.95):.2f} ms")
        print(f"baseline ({baseline.name}{', keeping' if baseline_keeps else ', not keeping'}):")
        print(f"                p50 {statistics.median(plain):.2f} ms, p95 {percentile(plain, 0.95):.2f} ms")
        print(
            f"added p50: {statistics.median(kept) - statistics.median(plain):+.2f} ms "
            f"(95% bootstrap interval {differences[50]:+.2f} to {differences[1949]:+.2f} ms)"
        )
    finally:
        for server in servers:
            server.terminate()
            server.wait()
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
