"""`classify` takes DICOM like a PNG: the slice rendered with its window, the modality gated."""

import contextlib
import io
import json

import numpy as np
import pytest
from django.core.management import call_command

from tests.conftest import dataset_image, require_weights
from tests.dicom_files import SYNTAXES, brain_pixels, compressed, dicom_bytes, mr_dataset

pytestmark = pytest.mark.slow


def classify(*paths) -> list[dict]:
    out = io.StringIO()
    with contextlib.suppress(SystemExit):  # classify exits 1 when a file gave no result
        call_command("classify", *map(str, paths), stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_dicom_slice_gets_the_same_answer_as_its_png(tmp_path):
    require_weights()
    png = dataset_image("glioma", 0)
    slice_ = tmp_path / "IM0001"
    slice_.write_bytes(compressed(mr_dataset(brain_pixels(png, dtype=np.uint16)), SYNTAXES["jpeg2000"]))
    from_png, from_dicom = classify(png, slice_)
    assert from_dicom["label"] == from_png["label"]
    assert from_dicom["confidence"] == pytest.approx(from_png["confidence"], abs=0.05)


def test_a_ct_is_refused_with_its_modality_named(tmp_path):
    require_weights()
    ct = tmp_path / "ct.dcm"
    ct.write_bytes(dicom_bytes(mr_dataset(brain_pixels(dataset_image("glioma", 0)), Modality="CT")))
    (line,) = classify(ct)
    assert line["outcome"] == "refused"
    assert line["reason"].startswith("CT, not MRI")


def test_a_multi_frame_dicom_is_a_readable_error(tmp_path):
    require_weights()
    frames = tmp_path / "multi.dcm"
    frames.write_bytes(dicom_bytes(mr_dataset(np.zeros((2, 64, 64), np.uint16))))
    (line,) = classify(frames)
    assert "multi-frame DICOM (2 frames)" in line["error"]
