"""DICOM files for tests, built with pydicom: every one carries identifiers that must never
be stored (FORBIDDEN), so any test can search the database and media for them."""

import io
import zipfile

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    MRImageStorage,
    RLELossless,
    generate_uid,
)

# Attribute → a value no code of ours could produce by chance: it must appear nowhere we store.
FORBIDDEN = {
    "PatientName": "Zebedee^Quixotic",
    "PatientID": "PID-7731-XQ",
    "PatientBirthDate": "19230417",
    "PatientAddress": "17 Quagmire Lane, Wibbleton",
    "InstitutionName": "Saint Ophelia Hospital",
    "InstitutionAddress": "99 Infirmary Row, Wibbleton",
    "ReferringPhysicianName": "Dr^Xylophone",
    "PerformingPhysicianName": "Dr^Kumquat",
    "OperatorsName": "Tech^Marmalade",
    "AccessionNumber": "ACC98765XQ",
    "StudyID": "STUDY-QX-42",
    "OtherPatientIDs": "OTHER-ID-QX-9",
    "StationName": "WIBBLETON-MR3",
    "DeviceSerialNumber": "SN-QX-555",
}
STUDY_UID = "1.2.826.0.1.3680043.8.498.1111111111"
SERIES_UID = "1.2.826.0.1.3680043.8.498.2222222222"
AXIAL = [1, 0, 0, 0, 1, 0]
SAGITTAL = [0, 1, 0, 0, 0, -1]


def mr_dataset(pixels: np.ndarray, **attributes) -> Dataset:
    """An MR slice with `pixels` stored as they are (uint8, uint16 or int16; 2-D, or 3-D for
    several frames), every FORBIDDEN identifier set, and `attributes` on top."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = SERIES_UID
    for keyword, value in FORBIDDEN.items():
        setattr(ds, keyword, value)
    ds.StudyDate = "20240305"
    ds.Modality = "MR"
    ds.SeriesDescription = "AX T1 POST"
    ds.SeriesNumber = 3
    ds.InstanceNumber = 1
    ds.MagneticFieldStrength = 1.5
    ds.SliceThickness = 5
    ds.PixelSpacing = [0.5, 0.5]
    ds.ImageOrientationPatient = AXIAL
    ds.ImagePositionPatient = [0, 0, 0]
    ds.BurnedInAnnotation = "NO"
    _set_pixels(ds, pixels)
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def _set_pixels(ds: Dataset, pixels: np.ndarray) -> None:
    frames = pixels.shape[0] if pixels.ndim == 3 else 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    bits = pixels.dtype.itemsize * 8
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = np.ascontiguousarray(pixels).astype(pixels.dtype.newbyteorder("<")).tobytes()


def dicom_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def compressed(ds: Dataset, syntax) -> bytes:
    """`ds` re-encoded: RLE Lossless and JPEG 2000 Lossless by pydicom's own encoders; JPEG
    baseline (which no pydicom plugin encodes) by Pillow, then encapsulated."""
    if syntax == JPEGBaseline8Bit:
        buffer = io.BytesIO()
        Image.fromarray(ds.pixel_array.astype(np.uint8)).save(buffer, format="JPEG", quality=95)
        ds.PixelData = encapsulate([buffer.getvalue()])
        ds["PixelData"].VR = "OB"
        ds["PixelData"].is_undefined_length = True
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    else:
        ds.compress(syntax, generate_instance_uid=False)
    return dicom_bytes(ds)


def brain_pixels(path, dtype=np.uint8) -> np.ndarray:
    """A training slice from the shared dataset, as gray stored values of `dtype`."""
    gray = np.asarray(Image.open(path).convert("L"))
    if dtype == np.uint8:
        return gray
    return (gray.astype(np.uint16) * 16).astype(dtype)  # 12-bit range, as an MR scanner stores


def ramp(rows: int = 64, columns: int = 64, dtype=np.uint16, high: int = 4095) -> np.ndarray:
    """Stored values rising from 0 at the top-left to `high` at the bottom-right."""
    grid = np.add.outer(np.arange(rows), np.arange(columns)).astype(np.float64)
    return np.round(grid / grid.max() * high).astype(dtype)


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


SYNTAXES = {"rle": RLELossless, "jpeg2000": JPEG2000Lossless, "jpeg": JPEGBaseline8Bit}
