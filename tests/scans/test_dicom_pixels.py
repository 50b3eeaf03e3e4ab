"""The engine's DICOM path (scans.ml.dicom_pixels): stored values → modality values → window →
8 bits, checked against arrays computed by hand from the DICOM standard's formulas."""

from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import MPEG2MPML, JPEGBaseline8Bit

from scans.ml.dicom_pixels import dataset_to_uint8, decode_dicom, is_dicom
from scans.ml.errors import ImageError
from tests.dicom_files import SYNTAXES, brain_pixels, compressed, dicom_bytes, mr_dataset, ramp


def sample(name: str) -> bytes:
    """One of the files pydicom ships for its own tests."""
    return Path(get_testdata_file(name)).read_bytes()


def render(stored: np.ndarray, **attributes) -> np.ndarray:
    return dataset_to_uint8(mr_dataset(stored, **attributes))


def test_rescale_then_the_first_window_give_the_standard_linear_ramp():
    stored = np.array([[0, 1000], [1500, 3000]], dtype=np.uint16)
    # Slope 2, intercept -1000: values -1000, 1000, 2000, 5000. Window 1000 ± 1000:
    # y = ((x - 999.5) / 2000 + 0.5) clipped to [0, 1], times 255.
    out = render(stored, RescaleSlope=2, RescaleIntercept=-1000, WindowCenter=[1000, 40], WindowWidth=[2001, 80])
    assert out.tolist() == [[0, 128], [255, 255]]


def test_only_the_first_of_several_windows_is_used():
    stored = np.array([[30, 40], [50, 60]], dtype=np.uint16)
    out = render(stored, WindowCenter=[45, 1000], WindowWidth=[31, 2000])
    # ((x - 44.5) / 30 + 0.5) * 255: 30 → 4.25, 40 → 89.25, 50 → 174.25, 60 → 259.25 (clipped to 255)
    assert out.tolist() == [[4, 89], [174, 255]]


def test_monochrome1_is_inverted_after_the_window():
    stored = np.array([[0, 100], [200, 300]], dtype=np.uint16)
    normal = render(stored, WindowCenter=150, WindowWidth=301)
    inverted = render(stored, WindowCenter=150, WindowWidth=301, PhotometricInterpretation="MONOCHROME1")
    assert inverted.tolist() == (255 - normal.astype(int)).tolist()
    assert inverted[0, 0] == 255


def test_signed_16_bit_values_keep_their_sign():
    stored = np.array([[-1000, 0], [40, 1000]], dtype=np.int16)
    # A brain window on CT-like signed values: ((x - 39.5) / 80 + 0.5) * 255, clipped:
    # -1000 → 0, 0 → 1.59, 40 → 129.09, 1000 → 255.
    out = render(stored, WindowCenter=40, WindowWidth=81)
    assert out.tolist() == [[0, 2], [129, 255]]


def test_the_voi_lut_is_applied_instead_of_a_window():
    from pydicom.dataset import Dataset

    lut = Dataset()
    lut.LUTDescriptor = [4, 10, 8]  # four entries, the first for stored value 10, 8 bits
    lut.LUTData = [0, 51, 102, 255]
    stored = np.array([[10, 11], [12, 13]], dtype=np.uint16)
    out = render(stored, VOILUTSequence=[lut], WindowCenter=0, WindowWidth=2)
    assert out.tolist() == [[0, 51], [102, 255]]


def test_without_a_window_a_few_bright_pixels_do_not_darken_the_slice():
    stored = np.full((100, 100), 100, dtype=np.uint16)
    stored[:50] = 0
    stored[0, :5] = 60000  # a handful of very bright artefact pixels
    out = render(stored)
    assert out[60, 60] == 255  # the tissue fills the range; the outliers are clipped


def test_a_multi_frame_file_gives_each_frame_on_its_own():
    frames = np.stack([np.full((4, 4), value, dtype=np.uint16) for value in (0, 50, 100)])
    ds = mr_dataset(frames, WindowCenter=50, WindowWidth=101)
    # ((x - 49.5) / 100 + 0.5) * 255: 0 → 1.275, 50 → 128.775, 100 → 256.275 (clipped)
    assert [int(dataset_to_uint8(ds, frame=i)[0, 0]) for i in range(3)] == [1, 129, 255]
    with pytest.raises(ImageError, match="has 3 frame"):
        dataset_to_uint8(ds, frame=3)


@pytest.mark.parametrize("syntax", ["rle", "jpeg2000"])
def test_lossless_compressed_slices_decode_to_the_same_image(syntax):
    stored = brain_pixels(_dataset_slice(), dtype=np.uint16)
    plain = decode_dicom(dicom_bytes(mr_dataset(stored)))
    assert np.array_equal(decode_dicom(compressed(mr_dataset(stored), SYNTAXES[syntax])), plain)


def test_a_jpeg_baseline_slice_decodes_close_to_the_original():
    stored = brain_pixels(_dataset_slice())
    plain = decode_dicom(dicom_bytes(mr_dataset(stored)))
    lossy = decode_dicom(compressed(mr_dataset(stored), JPEGBaseline8Bit))
    assert np.abs(lossy.astype(int) - plain.astype(int)).mean() < 3


@pytest.mark.parametrize(
    "name",
    [
        "MR_small.dcm",
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_implicit.dcm",
    ],
)
def test_pydicoms_sample_mr_decodes_the_same_in_every_transfer_syntax(name):
    reference = decode_dicom(sample("MR_small.dcm"))
    assert reference.shape == (64, 64)
    assert np.array_equal(decode_dicom(sample(name)), reference)


def test_colour_files_come_back_as_rgb():
    out = decode_dicom(sample("SC_rgb_rle.dcm"))
    assert out.dtype == np.uint8
    assert out.ndim == 3 and out.shape[2] == 3


def test_a_syntax_without_a_decoder_is_a_readable_error():
    ds = mr_dataset(ramp())
    ds.PixelData = encapsulate([ds.PixelData])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = MPEG2MPML  # video: no plugin decodes it
    with pytest.raises(ImageError, match="MPEG2 Main Profile / Main Level.*cannot be decoded"):
        decode_dicom(dicom_bytes(ds))


def test_a_truncated_jpeg_2000_stream_is_a_readable_error():
    ds = dcmread(get_testdata_file("MR_small_jp2klossless.dcm"))
    stream = next(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([stream[: len(stream) // 3]])
    with pytest.raises(ImageError, match=r"could not be decoded \(JPEG 2000"):
        decode_dicom(dicom_bytes(ds))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no DICM preamble"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 200, "no DICM preamble"),
        (b"\0" * 128 + b"DICM" + b"\xff" * 40, "damaged or truncated|Not a readable DICOM|no image"),
    ],
    ids=["empty", "png", "garbage-after-preamble"],
)
def test_bytes_that_are_not_a_dicom_are_readable_errors(data, message):
    with pytest.raises(ImageError, match=message):
        decode_dicom(data)


def test_a_file_without_pixel_data_says_so():
    data = sample("rtplan.dcm")
    assert is_dicom(data)
    with pytest.raises(ImageError, match="no image"):
        decode_dicom(data)


def test_a_truncated_file_is_a_readable_error():
    with pytest.raises(ImageError):
        decode_dicom(sample("MR_truncated.dcm"))


def _dataset_slice():
    from tests.conftest import dataset_image, require

    path = dataset_image("glioma", 0)
    require(path.exists(), f"the shared dataset is missing ({path})")
    return path
