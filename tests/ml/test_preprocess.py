import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from scans.ml.errors import ImageError
from scans.ml.preprocess import decode_scan, head_box, model_input
from tests.ml.images import encode, head


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "LA"])
def test_it_decodes_every_common_mode_to_grayscale(mode):
    gray = decode_scan(encode(head(), "PNG", mode=mode))
    assert gray.dtype == np.uint8 and gray.shape == (256, 256)
    assert gray.max() > 100


def test_it_stretches_16_bit_images_instead_of_truncating_them():
    sixteen = (head().astype(np.uint16) * 200).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(sixteen).save(buffer, "PNG")
    gray = decode_scan(buffer.getvalue())
    assert gray.max() == 255 and gray.min() == 0


@pytest.mark.parametrize("size", [(200, 200), (600, 420), (233, 517), (640, 640)])
def test_it_gives_the_model_a_square_of_its_input_size_whatever_the_shape(size):
    batch = model_input(decode_scan(encode(head(*size), "JPEG", quality=90)), 224)
    assert batch.shape == (224, 224, 3) and batch.dtype == np.float32
    assert 0.0 <= batch.min() and batch.max() <= 1.0


def test_it_crops_the_black_background_around_the_head():
    gray = np.zeros((400, 400), dtype=np.uint8)
    gray[100:300, 120:280] = head(160, 200)
    top, left, bottom, right = head_box(gray)
    assert 100 <= top + 20 and bottom - 20 <= 300
    assert 120 <= left + 20 and right - 20 <= 280


@pytest.mark.parametrize("factor", [0.5, 0.7, 1.3, 1.5])
def test_brightness_and_contrast_changes_barely_move_the_model_input(factor):
    original = Image.fromarray(head(blob=(0.4, 0.4)))
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast):
        changed = np.asarray(enhancer(original).enhance(factor))
        difference = np.abs(model_input(changed, 224) - model_input(np.asarray(original), 224))
        assert difference.mean() < 0.06


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _animated_png() -> bytes:
    frames = [Image.fromarray(head(seed=i)) for i in range(2)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


BAD_INPUTS = {
    "not an image": (b"<html><body>hello</body></html>", "Not a readable image"),
    "zero bytes": (b"", "empty"),
    "truncated": (encode(head(), "JPEG")[:600], "truncated or corrupt"),
    "1x1": (encode(np.zeros((1, 1), dtype=np.uint8)), "too small"),
    "30000x30000": (_png_header_only(30000, 30000), "too large"),
    "cmyk jpeg": (encode(np.stack([head()] * 3, axis=-1), "JPEG", mode="CMYK"), "CMYK"),
    "animated png": (_animated_png(), "Animated"),
    "gif": (encode(head(), "GIF"), "not accepted"),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_is_a_one_line_image_error(name):
    data, words = BAD_INPUTS[name]
    with pytest.raises(ImageError, match=words) as raised:
        decode_scan(data)
    assert "\n" not in str(raised.value)
