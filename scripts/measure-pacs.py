#!/usr/bin/env python3
"""What a series from the PACS costs end to end: a 24-slice series stored in Orthanc, fetched with
WADO-RS, classified and given its verdict by one POST /pacs/classify, against the same 24 files as
24 single POST /predict calls, on one release server, alternating rounds so that a noisy machine
slows both alike. Prints the p50 of each, the fetch's share, and the cost per slice; then the p50 of
storing the result back (POST /pacs/store) over 5 rounds.

    source scripts/orthanc.sh && start_test_orthanc
    python3 scripts/measure-pacs.py [rounds] [slices]

Build first: cargo build --release -p brainscan && cargo build --release -p ml --example dicom_series
"""

import base64
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from release_server import BINARY, multipart, start

WRITER = BINARY.parent / "examples" / "dicom_series"
PORT = 8193
PASSWORD = "measure-pacs-admin"
# The study and series the dicom_series example writes.
STUDY = "1.2.826.0.1.3680043.2.1125.4242"
SERIES = STUDY + ".1"


def orthanc_upload(files: list[tuple[str, bytes]]) -> None:
    rest = os.environ["TEST_ORTHANC_URL"]
    user, password = os.environ["TEST_DICOMWEB_USER"], os.environ["TEST_DICOMWEB_PASSWORD"]
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    for _, data in files:
        request = urllib.request.Request(f"{rest}/instances", data=data, method="POST",
                                         headers={"Authorization": auth})
        urllib.request.urlopen(request).read()


def login(connection: http.client.HTTPConnection) -> dict:
    body = json.dumps({"username": "admin", "password": PASSWORD})
    connection.request("POST", "/auth/login", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    cookie = response.getheader("Set-Cookie", "").split(";")[0]
    if response.status != 200 or not cookie:
        sys.exit(f"login answered {response.status}")
    return {"Cookie": cookie, "Origin": f"http://127.0.0.1:{PORT}"}


def classify(connection: http.client.HTTPConnection, headers: dict,
             path: str = "/pacs/classify") -> tuple[float, dict]:
    body = json.dumps({"study_uid": STUDY, "series_uid": SERIES})
    started = time.perf_counter()
    connection.request("POST", path, body=body,
                       headers={**headers, "Content-Type": "application/json"})
    response = connection.getresponse()
    text = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        sys.exit(f"{path} answered {response.status}: {text[:300]!r}")
    return elapsed, json.loads(text)


def single(connection: http.client.HTTPConnection, file: tuple[str, bytes]) -> float:
    body, content_type = multipart([file], "file", "application/dicom")
    started = time.perf_counter()
    connection.request("POST", "/predict", body=body, headers={"Content-Type": content_type})
    response = connection.getresponse()
    text = response.read()
    if response.status != 200:
        sys.exit(f"/predict answered {response.status}: {text[:300]!r}")
    return time.perf_counter() - started


def main() -> None:
    if "TEST_DICOMWEB_URL" not in os.environ:
        sys.exit("no PACS: source scripts/orthanc.sh && start_test_orthanc first")
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 24
    work = Path(tempfile.mkdtemp(prefix="brainscan-pacs-"))
    subprocess.run([str(WRITER), str(work / "series"), str(count), "256"], check=True)
    files = [(p.name, p.read_bytes()) for p in sorted((work / "series").iterdir())]
    orthanc_upload(files)
    (work / "data").mkdir()
    os.environ.update(
        DICOMWEB_URL=os.environ["TEST_DICOMWEB_URL"],
        DICOMWEB_USER=os.environ["TEST_DICOMWEB_USER"],
        DICOMWEB_PASSWORD=os.environ["TEST_DICOMWEB_PASSWORD"],
        ADMIN_PASSWORD=PASSWORD,
        WRITES_PER_MINUTE="1000000",
    )
    server = start(PORT, str(work / "data"))
    try:
        connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
        headers = login(connection)
        pacs_times, fetch_times, single_times = [], [], []
        for round_ in range(rounds + 2):
            elapsed, answer = classify(connection, headers)
            slices = len(answer["series"][0]["slices"])
            if slices != count:
                sys.exit(f"the PACS series has {slices} slices, not {count} (an older run's study?)")
            singles = sum(single(connection, f) for f in files)
            if round_ >= 2:  # two warm-up rounds
                pacs_times.append(elapsed)
                fetch_times.append(answer["fetch_seconds"])
                single_times.append(singles)
        s = statistics.median(pacs_times) * 1000
        f = statistics.median(fetch_times) * 1000
        p = statistics.median(single_times) * 1000
        print(f"{count}-slice series from Orthanc, {rounds} rounds each:")
        print(f"  POST /pacs/classify (WADO-RS fetch + classify + verdict): p50 {s:.0f} ms "
              f"({s / count:.1f} ms per slice), of which the fetch p50 {f:.0f} ms")
        print(f"  {count} x POST /predict: p50 {p:.0f} ms ({p / count:.1f} ms per slice)")
        print(f"  PACS series / singles: {s / p:.2f}")
        # Storing the result back: a heatmap per slice, Secondary Capture, STOW-RS (fewer rounds:
        # each one adds a series to the PACS).
        store_times = [classify(connection, headers, "/pacs/store")[0] for _ in range(5)]
        t = statistics.median(store_times) * 1000
        print(f"  POST /pacs/store (classify + {count} heatmaps + STOW-RS), 5 rounds: p50 {t:.0f} ms")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
