import contextlib
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from scans.images import PNG_SIGNATURE, ImageRejected, image_clean, image_inspect
from tests.images import HTML_AS_PNG, SVG, jpeg_bytes, png_bomb, png_bytes

LIMITS = {"max_bytes": 20 * 1024 * 1024, "max_pixels": 40_000_000}


def clean(data: bytes):
    return image_clean(data=data, **LIMITS)


def test_it_reencodes_a_png_to_png():
    result = clean(png_bytes(80, 60))
    assert result.png.startswith(PNG_SIGNATURE)
    assert (result.width, result.height) == (80, 60)
    assert len(result.sha256) == 64


def test_it_reencodes_a_jpeg_to_png():
    result = clean(jpeg_bytes(50, 40))
    assert Image.open(io.BytesIO(result.png)).format == "PNG"
    assert (result.width, result.height) == (50, 40)


def test_it_drops_a_payload_appended_to_the_image():
    payload = b"<?php system($_GET['c']); ?>"
    result = clean(png_bytes() + payload)
    assert payload not in result.png


def test_it_drops_exif_metadata():
    exif = Image.Exif()
    exif[0x010E] = "Patient Jane Doe, MRN 123456"  # ImageDescription
    result = clean(jpeg_bytes(exif=exif.tobytes()))
    assert b"Jane Doe" not in result.png
    assert not Image.open(io.BytesIO(result.png)).getexif()


def test_it_scales_a_16_bit_scan_to_8_bit_grayscale():
    image = Image.new("I;16", (32, 32))
    image.putpixel((0, 0), 4000)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    decoded = Image.open(io.BytesIO(clean(buffer.getvalue()).png))
    assert decoded.mode == "L"
    assert decoded.getpixel((0, 0)) == 255


def _encoded(image: Image.Image, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def _palette_image() -> Image.Image:
    image = Image.new("P", (8, 8))
    image.putpalette([255, 0, 0] + [0, 0, 0] * 255)
    image.putpixel((0, 0), 0)
    return image


@pytest.mark.parametrize(
    ("image", "format", "stored_mode", "first_pixel"),
    [
        (Image.new("1", (8, 8), 1), "PNG", "L", 255),
        (Image.new("L", (8, 8), 77), "PNG", "L", 77),
        (Image.new("LA", (8, 8), (77, 10)), "PNG", "L", 77),
        (_palette_image(), "PNG", "RGB", (255, 0, 0)),
        (Image.new("RGBA", (8, 8), (10, 20, 30, 0)), "PNG", "RGB", (10, 20, 30)),
        (Image.new("RGB", (8, 8), (10, 20, 30)), "PNG", "RGB", (10, 20, 30)),
        (Image.new("CMYK", (8, 8), (0, 0, 0, 0)), "JPEG", "RGB", (255, 255, 255)),
    ],
    ids=["1-bit", "gray", "gray-alpha", "palette", "rgba", "rgb", "cmyk-jpeg"],
)
def test_every_mode_is_stored_as_8_bit_gray_or_rgb(image, format, stored_mode, first_pixel):
    stored = Image.open(io.BytesIO(clean(_encoded(image, format)).png))
    assert stored.mode == stored_mode
    assert stored.getpixel((0, 0)) == first_pixel


def test_a_16_bit_scan_is_stretched_from_its_own_darkest_to_its_brightest():
    image = Image.new("I;16", (3, 1))
    for x, value in enumerate((1000, 2000, 3000)):
        image.putpixel((x, 0), value)
    stored = Image.open(io.BytesIO(clean(_encoded(image)).png))
    assert stored.mode == "L"
    assert [stored.getpixel((x, 0)) for x in range(3)] == [0, 127, 255]


def test_a_flat_16_bit_scan_does_not_divide_by_zero():
    stored = Image.open(io.BytesIO(clean(_encoded(Image.new("I;16", (4, 4), 500))).png))
    assert stored.mode == "L"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (HTML_AS_PNG, "only PNG and JPEG"),
        (SVG, "only PNG and JPEG"),
        (b"%PDF-1.7\n" + b"0" * 100, "only PNG and JPEG"),
        (b"SIMPLE  =                    T" + b" " * 100, "only PNG and JPEG"),  # FITS
        (jpeg_bytes(200, 200)[:300], "damaged or truncated"),
        (PNG_SIGNATURE + b"garbage", "damaged or truncated"),
    ],
)
def test_it_rejects_what_is_not_a_readable_png_or_jpeg(data, message):
    with pytest.raises(ImageRejected, match=message):
        clean(data)


def test_it_rejects_a_decompression_bomb_from_its_header():
    bomb = png_bomb()
    assert len(bomb) < 100_000
    with pytest.raises(ImageRejected, match="Image too large"):
        clean(bomb)


def test_it_rejects_more_pixels_than_the_limit_before_decoding():
    with pytest.raises(ImageRejected, match="Image too large"):
        image_clean(data=png_bytes(100, 100), max_bytes=LIMITS["max_bytes"], max_pixels=9_999)


@pytest.mark.parametrize("check", [image_clean, image_inspect], ids=["clean", "inspect"])
def test_it_refuses_an_image_over_the_limit_without_decoding_a_pixel(monkeypatch, check):
    decoded = []
    load = ImageFile.ImageFile.load

    def spying_load(image):
        decoded.append(image.size)
        return load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spying_load)
    # 49 megapixels: above our 40 MP limit, below Pillow's own bomb check (~89 MP), so only
    # our header check can refuse it before its pixels are decoded.
    over_our_limit = png_bomb(7000)
    assert 40_000_000 < 7000 * 7000 < Image.MAX_IMAGE_PIXELS

    with pytest.raises(ImageRejected, match="Image too large"):
        check(data=over_our_limit, **LIMITS)

    assert decoded == []
    check(data=png_bytes(70, 70), **LIMITS)  # the spy does see an image within the limit being decoded
    assert (70, 70) in decoded


def test_it_rejects_more_bytes_than_the_limit():
    with pytest.raises(ImageRejected, match="too large: the limit is 1 MB"):
        image_clean(data=png_bytes() + b"\0" * 1024 * 1024, max_bytes=1024 * 1024, max_pixels=10**6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=st.sampled_from([b"", PNG_SIGNATURE, b"\xff\xd8\xff", png_bytes(8, 8)[:40]]),
    body=st.binary(max_size=2048),
)
def test_the_decoder_raises_nothing_but_a_rejection_on_any_bytes(prefix, body):
    with contextlib.suppress(ImageRejected):
        clean(prefix + body)


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(min_value=1, max_value=2000), flip=st.integers(min_value=0, max_value=255))
def test_the_decoder_survives_damaged_real_images(cut, flip):
    good = jpeg_bytes(48, 48) if cut % 2 else png_bytes(48, 48)
    position = cut % len(good)
    damaged = good[:position] + bytes([flip]) + good[position + 1 :]
    with contextlib.suppress(ImageRejected):
        clean(damaged)


@pytest.mark.parametrize("size", [(1, 1), (63, 512), (512, 20)])
def test_the_upload_check_refuses_an_image_too_small_to_be_a_slice(size):
    with pytest.raises(ImageRejected, match="Image too small"):
        image_inspect(data=png_bytes(*size), max_bytes=10**6, max_pixels=10**6, min_side=64)


def test_the_upload_check_reads_the_pixels_but_does_not_reencode(monkeypatch):
    data = png_bytes(100, 80)
    monkeypatch.setattr(Image.Image, "save", lambda *args, **kwargs: pytest.fail("re-encoded on the request path"))
    checked = image_inspect(data=data, max_bytes=10**6, max_pixels=10**6, min_side=64)
    assert (checked.width, checked.height) == (100, 80)


def test_the_upload_check_refuses_a_truncated_image():
    with pytest.raises(ImageRejected, match="damaged or truncated"):
        image_inspect(data=png_bytes(256, 256)[:-30], max_bytes=10**6, max_pixels=10**6, min_side=64)


def test_the_upload_check_does_not_decode_a_large_image_in_full(monkeypatch):
    data = png_bytes(2100, 2100)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded on the request path"))
    checked = image_inspect(data=data, max_bytes=10**7, max_pixels=10**7, min_side=64)
    assert (checked.width, checked.height) == (2100, 2100)


def test_the_upload_check_refuses_a_large_png_with_a_broken_checksum():
    data = bytearray(png_bytes(2100, 2100))
    data[-20] ^= 0xFF  # inside the last IDAT chunk
    with pytest.raises(ImageRejected, match="damaged or truncated"):
        image_inspect(data=bytes(data), max_bytes=10**7, max_pixels=10**7, min_side=64)
