#!/usr/bin/env python3
"""Peak memory of a running server under the worst inputs of issue 12, sent at once.

Starts nothing itself: point it at a server's port and process id, e.g.
    brainscan serve --port 8200 &  python3 scripts/measure-worst-inputs.py 8200 $! <admin token>
Sends CONCURRENCY requests together: batch predictions of PNGs just under the pixel budget
(4096x4096 RGBA, 65 KB each, 64 MB decoded), uploads of the same, and 8192x8192 RGBA "bombs"
(261 KB, 256 MB decoded, refused from the header). Prints the status counts and the server's peak
RSS (VmHWM) before and after. Standard library only.
"""
import concurrent.futures
import struct
import sys
import time
import urllib.request
import uuid
import zlib


def png(side, seed=0):
    """An RGBA PNG of `side` x `side`, mostly zeros (tiny on the wire, huge decoded)."""
    row = b"\x00" + bytes([seed % 256, 0, 0, 255]) + b"\x00" * (side * 4 - 4)
    raw = row * side
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def multipart(fields, files):
    boundary = uuid.uuid4().hex
    body = b""
    for name, value in fields:
        body += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n".encode()
    for name, filename, data in files:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
                 "Content-Type: image/png\r\n\r\n").encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    port, pid, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    concurrency = 20
    files_per_request = 10
    base = f"http://127.0.0.1:{port}"
    near_budget = [png(4096, seed) for seed in range(files_per_request)]
    bomb = png(8192)
    print(f"payloads: 4096x4096 PNG {len(near_budget[0]) // 1024} KB, 8192x8192 PNG {len(bomb) // 1024} KB")

    def send(index):
        kind = index % 4
        if kind == 0:
            body, ctype = multipart([], [("file", "bomb.png", bomb)])
            path = "/predict"
        elif kind == 3:
            body, ctype = multipart([("class_name", "glioma")],
                                    [("files", f"u{index}-{i}.png", data) for i, data in enumerate(near_budget)])
            path = "/retrain"
        else:
            body, ctype = multipart([], [("files", f"b{i}.png", data) for i, data in enumerate(near_budget)])
            path = "/predict/batch"
        request = urllib.request.Request(base + path, data=body, method="POST",
                                         headers={"Content-Type": ctype, "Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                return path, response.status
        except urllib.error.HTTPError as error:
            return path, error.code

    before = peak_rss_mb(pid)
    started = time.time()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(send, range(concurrency)))
    counts = {}
    for result in results:
        counts[result] = counts.get(result, 0) + 1
    print(f"{concurrency} concurrent requests in {time.time() - started:.1f} s: {counts}")
    print(f"server peak RSS: {before:.0f} MB before, {peak_rss_mb(pid):.0f} MB after")


if __name__ == "__main__":
    main()
