#!/usr/bin/env python3
"""What a series costs: a 24-slice DICOM series through POST /predict/series against the same 24
files through 24 single POST /predict calls, on one release server, alternating rounds so that a
noisy machine slows both alike. Prints the p50 of each (whole series) and the cost per slice.

    python3 scripts/measure-series.py [rounds] [slices]

Build first: cargo build --release -p brainscan && cargo build --release -p ml --example dicom_series
"""

import http.client
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from release_server import BINARY, ROOT, multipart, start

WRITER = BINARY.parent / "examples" / "dicom_series"
PORT = 8192


def post(connection: http.client.HTTPConnection, path: str, files, field: str) -> float:
    body, content_type = multipart(files, field, "application/dicom")
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
    (work / "data").mkdir()
    server = start(PORT, str(work / "data"))
    try:
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
