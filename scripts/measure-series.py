#!/usr/bin/env python3
"""What a series costs: a 24-slice DICOM series through POST /predict/series against the same 24
files through 24 single POST /predict calls, on one release server, alternating rounds so that a
noisy machine slows both alike. Prints the p50 of each (whole series) and the cost per slice.

    python3 scripts/measure-series.py [rounds] [slices]

Build first: cargo build --release -p brainscan && cargo build --release -p ml --example dicom_series
"""

import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BINARY = TARGET / "release" / "brainscan"
WRITER = TARGET / "release" / "examples" / "dicom_series"
PORT = 8192


def form(files: list[tuple[str, bytes]], field: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = b""
    for name, data in files:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"
                 f"Content-Type: application/dicom\r\n\r\n").encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def post(connection: http.client.HTTPConnection, path: str, files, field: str) -> float:
    body, content_type = form(files, field)
    started = time.perf_counter()
    connection.request("POST", path, body=body, headers={"Content-Type": content_type})
    response = connection.getresponse()
    text = response.read()
    if response.status != 200:
        sys.exit(f"{path} answered {response.status}: {text[:300]!r}")
    return time.perf_counter() - started


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 24
    work = Path(tempfile.mkdtemp(prefix="brainscan-series-"))
    subprocess.run([str(WRITER), str(work / "series"), str(count), "256"], check=True)
    files = [(p.name, p.read_bytes()) for p in sorted((work / "series").iterdir())]
    env = dict(os.environ, RUST_LOG="warn", HOST="127.0.0.1", PORT=str(PORT), DATA_ROOT=str(work / "data"),
               MODEL_DIR=str(ROOT / "models"), LEPTOS_SITE_ROOT=str(ROOT / "target" / "site"),
               KEEP_PREDICTION_SLICES="false", PREDICT_PER_MINUTE="1000000", READS_PER_MINUTE="1000000")
    server = subprocess.Popen([str(BINARY), "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(work / "server.log", "w"))
    try:
        for _ in range(150):
            try:
                c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
        series_times, single_times = [], []
        for round_ in range(rounds + 2):
            series = post(connection, "/predict/series", files, "files")
            singles = sum(post(connection, "/predict", [f], "file") for f in files)
            if round_ >= 2:  # two warm-up rounds
                series_times.append(series)
                single_times.append(singles)
        s, p = statistics.median(series_times) * 1000, statistics.median(single_times) * 1000
        print(f"{count}-slice series, {rounds} rounds each:")
        print(f"  POST /predict/series: p50 {s:.0f} ms ({s / count:.1f} ms per slice)")
        print(f"  {count} x POST /predict: p50 {p:.0f} ms ({p / count:.1f} ms per slice)")
        print(f"  series / singles: {s / p:.2f}")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
