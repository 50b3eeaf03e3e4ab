"""The modality gate: only an MR image may get a tumour label.

The header says what the file is; a CT, an X-ray or a secondary capture is refused whatever
the model would make of its pixels. The verdict is taken at upload, stored with the slice's
attributes (Scan.dicom["refusal"]), and read by the pipeline through `scan_refusal`, so the
slice ends with the same "refused" outcome, and its reason, as any input that is not a brain
MRI slice. A slice that is not axial gets a warning: in the training data plane goes with class.
"""

from scans.models import Outcome

# Counted on contact sheets of 48 random training slices of each kind (docs/models.md).
PLANE_IN_TRAINING = (
    "Nearly all the model's no-tumour training slices were axial, while its tumour slices came in all three planes, so"
)

MODALITY_NAMES = {
    "CT": "CT",
    "CR": "a radiograph",
    "DX": "a radiograph",
    "MG": "a mammogram",
    "US": "ultrasound",
    "PT": "PET",
    "NM": "nuclear medicine",
    "XA": "angiography",
    "OT": "an unspecified modality (OT)",
    "SC": "a secondary capture",
    "SR": "a structured report",
}


def modality_refusal(attributes: dict) -> str:
    """Why this slice may not be classified, or "" when it may."""
    modality = attributes.get("modality", "")
    if modality == "MR":
        return ""
    if not modality:
        return "The DICOM file does not say which modality it is: only MR images are classified."
    return f"{MODALITY_NAMES.get(modality, modality)}, not MRI: only brain MR images are classified."


def slice_warnings(attributes: dict) -> list[str]:
    """What a reader of the result must know about this slice's acquisition."""
    warnings = []
    orientation = attributes.get("orientation", "")
    if orientation and orientation != "axial":
        warnings.append(f"This slice is {orientation}. {PLANE_IN_TRAINING} it may call a tumour where there is none.")
    if not orientation:
        warnings.append(
            f"The file does not give the slice's orientation. {PLANE_IN_TRAINING} on a coronal or sagittal slice it "
            "may call a tumour where there is none."
        )
    if attributes.get("burned_in_annotation"):
        warnings.append(
            "The file says text is burned into the pixels (Burned In Annotation = YES): it may show identifiers."
        )
    return warnings


def scan_refusal(scan) -> str:
    """The modality gate's reason to refuse this scan, or "" (always "" for a PNG or JPEG)."""
    return (getattr(scan, "dicom", None) or {}).get("refusal", "")


def modality_gated(output, scan):
    """The pipeline's hook, applied to each model's output before it is stored: a slice whose
    header says it is not MR is refused with that reason, whatever the model made of its
    pixels (its raw answer is kept, as for any refusal)."""
    reason = scan_refusal(scan)
    if reason:
        output.outcome = Outcome.REFUSED
        output.outcome_reason = reason[:300]
    return output
