"""What the measurement scripts share: a release server on a throw-away data root, and a multipart
body. Imported by bench-feedback.py, measure-drift.py, measure-series.py and measure-pacs.py (run from the repository
root as `python3 scripts/<name>.py`)."""

import http.client
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BINARY = TARGET / "release" / "brainscan"


def start(port: int, root: str, binary: Path = BINARY, keep_slices: bool = False) -> subprocess.Popen:
    """`binary serve` on 127.0.0.1:`port` with the shipped model and no rate limits, once `/health`
    answers; exits the script if it never does (its log is `root`/server.log)."""
    env = dict(
        os.environ,
        RUST_LOG="warn",
        HOST="127.0.0.1",
        PORT=str(port),
        DATA_ROOT=root,
        MODEL_DIR=str(ROOT / "models"),
        LEPTOS_SITE_ROOT=str(ROOT / "target" / "site"),
        KEEP_PREDICTION_SLICES="true" if keep_slices else "false",
        PREDICT_PER_MINUTE="1000000",
        READS_PER_MINUTE="1000000",
    )
    server = subprocess.Popen([str(binary), "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(Path(root) / "server.log", "w"))
    for _ in range(150):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.kill()
    sys.exit(f"the server on port {port} did not start; see {root}/server.log")


def multipart(files: list[tuple[str, bytes]], field: str, mime: str) -> tuple[bytes, str]:
    """A multipart/form-data body of `files` under `field`, and its Content-Type."""
    boundary = uuid.uuid4().hex
    body = b""
    for name, data in files:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
                 f"filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n").encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
