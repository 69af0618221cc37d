#!/usr/bin/env python3
"""Does drift detection see a new scanner, and not the old one?

For each alteration (gamma 0.6, a Gaussian blur, half the resolution), starts a release server on a
throw-away data root with the default drift settings (the last 500 predictions, alert above PSI
0.2), sends it 500 held-out validation slices of the shipped model as they are, one at a time
through POST /predict, and reads GET /metrics/drift (no drift expected); then sends the same 500
slices altered as a new scanner would alter them, reading the report every 10 predictions, and
prints how many altered predictions it took until the alert (the Monitor page's banner) and every
signal's PSI and KS at the end of both phases.

    DATA_DIR=../shared/data/brain-tumor-mri python3 scripts/measure-drift.py [slices]

Build first: cargo build --release -p brainscan. Needs Pillow (python3-pil) for the alterations.
"""

import http.client
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageFilter

from release_server import BINARY, ROOT, multipart, start
PORT = 8191
STEP = 10


def gamma(image: Image.Image) -> Image.Image:
    table = [round(255 * (v / 255) ** 0.6) for v in range(256)]
    return image.point(table)


def blur(image: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius=2))


def half_resolution(image: Image.Image) -> Image.Image:
    return image.resize((max(1, image.width // 2), max(1, image.height // 2)), Image.BICUBIC)


ALTERATIONS = {"gamma 0.6": gamma, "blur (Gaussian, radius 2)": blur, "half resolution": half_resolution}


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95)
    return out.getvalue()


def predict(connection: http.client.HTTPConnection, body: bytes) -> bool:
    """Sends one slice; answers whether the model answered it."""
    form, content_type = multipart([("s.jpg", body)], "file", "image/jpeg")
    connection.request("POST", "/predict", body=form, headers={"Content-Type": content_type})
    response = connection.getresponse()
    text = response.read()
    # A slice the not-an-MRI check refuses (422) is no prediction: drift only sees answers.
    if response.status not in (200, 422):
        sys.exit(f"/predict answered {response.status}: {text[:300]!r}")
    return response.status == 200


def drift(connection: http.client.HTTPConnection) -> dict:
    time.sleep(1.05)  # a report is answered again for a second
    connection.request("GET", "/metrics/drift")
    response = connection.getresponse()
    return json.loads(response.read())


def summary(report: dict) -> str:
    lines = [f"  status {report['status']}, {report['recent_predictions']} predictions"]
    for signal in report["signals"]:
        ks = "" if signal["ks"] is None else f"  KS {signal['ks']:.3f}"
        flag = "  <- drifts" if signal["drifting"] else ""
        lines.append(f"  {signal['label']:<22} PSI {signal['psi']:.3f}{ks}{flag}")
    return "\n".join(lines)


def main() -> None:
    data = Path(os.environ.get("DATA_DIR", ROOT.parent / "shared/data/brain-tumor-mri")) / "train"
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    listed = subprocess.run([str(BINARY), "evaluate", "--data", str(data), "--model",
                             str(ROOT / "models"), "--split", "validation", "--list"],
                            check=True, capture_output=True, text=True).stdout.split()
    random.Random(42).shuffle(listed)
    chosen = listed[:count]
    print(f"{len(chosen)} of the shipped model's {len(listed)} validation slices")
    originals = [Image.open(path).convert("L") for path in chosen]
    plain = [Path(path).read_bytes() for path in chosen]  # the files as they are
    for name, alter in ALTERATIONS.items():
        root = tempfile.mkdtemp(prefix="brainscan-drift-")
        server = start(PORT, root)
        try:
            connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
            refused = sum(1 for body in plain if not predict(connection, body))
            before = drift(connection)
            print(f"\n== {name}\nas held out ({refused} refused as not an MRI):\n{summary(before)}")
            alerted_after = None
            refused = 0
            for index, image in enumerate(originals, start=1):
                refused += not predict(connection, jpeg(alter(image)))
                if alerted_after is None and index % STEP == 0:
                    if drift(connection)["status"] == "drifting":
                        alerted_after = index
            after = drift(connection)
            print(f"altered ({refused} refused as not an MRI):\n{summary(after)}")
            print(f"alert after {alerted_after} altered predictions (read every {STEP})"
                  if alerted_after else "no alert")
        finally:
            server.terminate()
            server.wait()
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
