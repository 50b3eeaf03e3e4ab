"""The modality gate: a DICOM that is not MR never gets a tumour label, whatever its pixels."""

import pytest

from scans import pipeline
from scans.dicom.gate import modality_refusal, slice_warnings
from scans.models import Outcome
from tests.factories import ScanFactory
from tests.scans.stub_engine import StubEngine


@pytest.mark.parametrize(
    ("modality", "reason"),
    [
        ("CT", "CT, not MRI"),
        ("CR", "a radiograph, not MRI"),
        ("SC", "a secondary capture, not MRI"),
        ("XC", "XC, not MRI"),
        ("", "does not say which modality"),
    ],
)
def test_anything_but_mr_is_refused_with_its_modality_named(modality, reason):
    assert reason in modality_refusal({"modality": modality})


def test_mr_passes_the_gate():
    assert modality_refusal({"modality": "MR"}) == ""


@pytest.mark.parametrize("orientation", ["sagittal", "coronal", "oblique", ""])
def test_a_slice_that_is_not_known_to_be_axial_is_warned_about(orientation):
    warning = " ".join(slice_warnings({"orientation": orientation}))
    assert "no-tumour training slices were axial" in warning and "may call a tumour where there is none" in warning


def test_an_axial_slice_without_burned_in_text_has_no_warning():
    assert slice_warnings({"orientation": "axial", "burned_in_annotation": False}) == []


def test_the_pipeline_stores_a_ct_slice_as_refused_with_the_gates_reason(db, monkeypatch):
    monkeypatch.setattr(pipeline, "_engine", StubEngine)
    reason = modality_refusal({"modality": "CT"})
    scan = ScanFactory(dicom={"modality": "CT", "refusal": reason})
    pipeline.classify_scan(scan.pk)
    prediction = scan.predictions.get()
    assert prediction.outcome == Outcome.REFUSED
    assert prediction.outcome_reason == reason


def test_the_gate_leaves_a_png_scans_outcome_to_the_engine(db, monkeypatch):
    monkeypatch.setattr(pipeline, "_engine", StubEngine)
    scan = ScanFactory()
    pipeline.classify_scan(scan.pk)
    assert scan.predictions.get().outcome == Outcome.CLASSIFIED
