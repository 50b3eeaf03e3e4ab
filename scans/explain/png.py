"""A guard that the PNGs we send out carry pixels only.

The upload path re-encodes every image, which drops metadata; this check makes that promise
hold here as well, so a caller that skipped re-encoding fails loudly instead of sending a
patient's name hidden in a text chunk (RELIABILITY.md promise 11).
"""

import struct

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Chunks that hold free text or camera/EXIF data: anything typed by a person can live here.
_METADATA_CHUNKS = {b"tEXt", b"zTXt", b"iTXt", b"eXIf"}


def check_png_without_metadata(data: bytes, *, what: str) -> None:
    """Raise ValueError unless `data` is a well-formed PNG with no text or EXIF chunks."""
    if not isinstance(data, bytes) or not data.startswith(PNG_SIGNATURE):
        raise ValueError(f"{what} must be PNG bytes")
    offset = len(PNG_SIGNATURE)
    while offset < len(data):
        if offset + 8 > len(data):
            raise ValueError(f"{what} is a truncated PNG")
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind in _METADATA_CHUNKS:
            raise ValueError(f"{what} carries a {kind.decode()} metadata chunk; re-encode it first")
        offset += 12 + length  # length + type + data + CRC
        if kind == b"IEND":
            if offset != len(data):
                raise ValueError(f"{what} has bytes after the end of the image")
            return
    raise ValueError(f"{what} is a truncated PNG")
