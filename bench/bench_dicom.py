"""Upload → last slice done for a zipped DICOM series, through the API of a running portal.

    .venv/bin/python bench/bench_dicom.py --url http://127.0.0.1:8000 --slices 24 200

Builds, for each size, a series of 16-bit MR slices from the shared dataset's images (never
stored anywhere but in memory), zips it, uploads it in one request, then polls the slices
until every one is `done` (or failed). Prints the upload request's time, the time to the first
and the last slice classified and done, and the slices per second. A single PNG is uploaded
first to warm the worker (model load) and is not counted. Needs pydicom (the venv).
"""

import argparse
import io
import json
import sys
import time
import uuid
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_e2e import DATASET, call, multipart  # noqa: E402


def mr_slice(png: Path, index: int, series_uid: str) -> bytes:
    pixels = (np.asarray(Image.open(png).convert("L")).astype(np.uint16) * 16).astype(np.uint16)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = MRImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), series_uid
    ds.Modality, ds.SeriesDescription, ds.InstanceNumber = "MR", "AX T1 BENCH", index + 1
    ds.ImageOrientationPatient, ds.ImagePositionPatient = [1, 0, 0, 0, 1, 0], [0, 0, 5.0 * index]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def series_zip(count: int) -> bytes:
    pngs = sorted((DATASET / "glioma").iterdir())[:count]
    series_uid = generate_uid()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, png in enumerate(pngs):
            archive.writestr(f"SERIES/IM{index:04d}", mr_slice(png, index, series_uid))
    return buffer.getvalue()


def zip_multipart(data: bytes, model: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n{model}\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="series.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n".encode(),
        data,
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def all_scans(api: str, token: str, patient: int) -> list[dict]:
    scans, url = [], f"{api}/patients/{patient}/scans/"
    while url:
        page = call("GET", url, token)
        scans += page["results"]
        url = page["next"]
    return scans


def run_series(api: str, token: str, patient: int, count: int, model: str) -> dict:
    body, content_type = zip_multipart(series_zip(count), model)
    started = time.perf_counter()
    upload = call("POST", f"{api}/patients/{patient}/scans/", token, body, content_type)
    upload_ms = (time.perf_counter() - started) * 1000
    pending = {scan["id"] for scan in upload["scans"]}
    classified, done, failed = {}, {}, 0
    while pending:
        time.sleep(0.25)
        scans = all_scans(api, token, patient)
        now = (time.perf_counter() - started) * 1000
        for scan in scans:
            if scan["id"] not in pending:
                continue
            if scan["status"] in ("classified", "done"):
                classified.setdefault(scan["id"], now)
            if scan["status"] == "done":
                done[scan["id"]] = now
                pending.discard(scan["id"])
            elif scan["status"] == "failed":
                failed += 1
                pending.discard(scan["id"])
    return {
        "slices": count,
        "upload_ms": round(upload_ms),
        "first_classified_ms": round(min(classified.values())),
        "last_classified_ms": round(max(classified.values())),
        "last_done_ms": round(max(done.values())),
        "slices_per_s": round(count / (max(done.values()) / 1000), 2),
        "failed": failed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", default="demo")
    parser.add_argument("--password", default="demo-portal-2024")
    parser.add_argument("--model", default="custom_cnn")
    parser.add_argument("--slices", type=int, nargs="+", default=[24, 200])
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
    )["id"]
    warm, content_type = multipart(sorted((DATASET / "notumor").iterdir())[0], args.model)
    scan = call("POST", f"{api}/patients/{patient}/scans/", token, warm, content_type)
    while scan["status"] not in ("done", "failed"):
        time.sleep(0.25)
        scan = call("GET", f"{api}/scans/{scan['id']}/", token)
    for count in args.slices:
        print(json.dumps(run_series(api, token, patient, count, args.model)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
