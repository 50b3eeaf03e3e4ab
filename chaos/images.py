"""Images for the experiments: real slices from the shared dataset (read, never copied) and
hostile ones — what a careless or malicious client might send."""

import io
import random
from pathlib import Path

from PIL import Image

DATASET = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "brain-tumor-mri" / "Training"


def real_slices(count: int, seed: int = 14) -> list[bytes]:
    files = sorted(path for folder in sorted(DATASET.iterdir()) for path in sorted(folder.iterdir()))
    return [path.read_bytes() for path in random.Random(seed).sample(files, count)]


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def hostile_images() -> dict[str, bytes]:
    """name → bytes. Only `legal_but_huge` passes the upload checks (it is expensive for
    whoever re-encodes it); every other one must be refused with a 400."""
    gradient = Image.linear_gradient("L").resize((6300, 6300))
    real_png = _png(Image.new("L", (256, 256), 90))
    return {
        "too_many_pixels_6300x6300": _png(gradient),
        "legal_but_huge_3900x3900_rgb": _png(Image.linear_gradient("L").resize((3900, 3900)).convert("RGB")),
        "one_pixel": _png(Image.new("L", (1, 1))),
        "truncated": real_png[: len(real_png) // 2],
        "html_named_png": b"<!doctype html><script>alert(1)</script>",
        "decompression_bomb": _bomb(),
    }


def _bomb(side: int = 20000) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
