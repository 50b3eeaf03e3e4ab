"""Upload → classified latency through the API of a running portal (`make run`).

    .venv/bin/python bench/bench_e2e.py --url http://127.0.0.1:8000 --count 20

Uploads real scans from the shared dataset one after another, polls each every 0.1 s until
it is `classified` or `done`, and prints the median and p95 of the wall time together with
the worker's own `total_ms`. The first scan warms the worker (model load) and is reported
separately. Standard library only, so it runs from any Python.
"""

import argparse
import json
import statistics
import sys
import time
import urllib.request
import uuid
from pathlib import Path

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "brain-tumor-mri" / "Training"


def call(method: str, url: str, token: str | None = None, body: bytes | None = None, content_type: str = "") -> dict:
    request = urllib.request.Request(url, data=body, method=method)
    if token:
        request.add_header("Authorization", f"Token {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def multipart(path: Path, model: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n{model}\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode(),
        path.read_bytes(),
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", default="demo")
    parser.add_argument("--password", default="demo-portal-2024")
    parser.add_argument("--model", default="custom_cnn")
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    api = args.url.rstrip("/") + "/api/v1"

    form = f"username={args.username}&password={args.password}".encode()
    token = call("POST", f"{api}/auth/token/", body=form, content_type="application/x-www-form-urlencoded")["token"]
    mrn = f"BENCH-{uuid.uuid4().hex[:8]}"
    patient = call(
        "POST",
        f"{api}/patients/",
        token,
        json.dumps({"medical_record_number": mrn, "display_name": "Benchmark"}).encode(),
        "application/json",
    )
    files = sorted((DATASET / "glioma").iterdir())[: args.count + 1]

    walls, workers = [], []
    for index, path in enumerate(files):
        body, content_type = multipart(path, args.model)
        started = time.perf_counter()
        scan = call("POST", f"{api}/patients/{patient['id']}/scans/", token, body, content_type)
        while scan["status"] not in ("classified", "done", "failed"):
            time.sleep(0.1)
            scan = call("GET", f"{api}/scans/{scan['id']}/", token)
        wall_ms = (time.perf_counter() - started) * 1000
        if scan["status"] == "failed":
            print(f"scan {scan['id']} failed: {scan['error']}", file=sys.stderr)
            return 1
        total_ms = scan["predictions"][0]["timings"]["total_ms"]
        if index == 0:
            print(f"cold (first scan, model load): upload→classified {wall_ms:.0f} ms, worker {total_ms:.0f} ms")
            continue
        walls.append(wall_ms)
        workers.append(total_ms)

    def p95(values: list[float]) -> float:
        return sorted(values)[max(0, round(0.95 * len(values)) - 1)]

    print(f"warm, n={len(walls)}, model={args.model}")
    print(f"  upload→classified  median {statistics.median(walls):.0f} ms  p95 {p95(walls):.0f} ms")
    print(f"  worker total_ms    median {statistics.median(workers):.0f} ms  p95 {p95(workers):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
