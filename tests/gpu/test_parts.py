"""Weights carried back from a GPU run as float16 parts: split under the size limit, joined only
when whole, and written into a weights file only when they fit the architecture."""

import json

import h5py
import numpy as np
import pytest

from gpu import parts


def weights_file(path, arrays):
    with h5py.File(path, "w") as handle:
        for name, array in arrays.items():
            handle.create_dataset(name, data=array)
    return path


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(parts, "PART_BYTES", 1500)


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    return {
        "layers/conv/vars/0": rng.normal(0, 0.1, (3, 3, 8, 16)).astype("float32"),
        "layers/bn/vars/3": rng.uniform(0.5, 2.0, (16,)).astype("float32"),
        "layers/logits/vars/0": rng.normal(0, 0.1, (16, 4)).astype("float32"),
    }


def test_parts_join_back_into_the_same_weights_within_float16_precision(tmp_path, arrays, small_parts):
    source = weights_file(tmp_path / "best.weights.h5", arrays)
    manifest = parts.write_parts(source, tmp_path / "out", "xception-e03", {"state": {"best_epoch": 3}})
    joined, read_back = parts.read_parts(tmp_path / "out")
    assert len(manifest["parts"]) > 1
    assert all(p["bytes"] <= 1500 for p in manifest["parts"])
    assert read_back["state"] == {"best_epoch": 3}
    for name, array in arrays.items():
        assert joined[name].dtype == np.float16
        np.testing.assert_allclose(joined[name].astype("float32"), array, rtol=1e-3, atol=1e-4)


def test_an_array_float16_cannot_hold_stays_float32_instead_of_becoming_infinite():
    converted = parts.to_float16({"variance": np.array([1.0, 1e6], "float32"), "step": np.array(7, "int64")})
    assert converted["variance"].dtype == np.float32 and converted["variance"][1] == 1e6
    assert converted["step"].dtype == np.int64


def test_a_new_export_replaces_the_parts_of_the_previous_one(tmp_path, arrays, small_parts):
    source = weights_file(tmp_path / "best.weights.h5", arrays)
    first = parts.write_parts(source, tmp_path / "out", "xception-e01", {})
    second = parts.write_parts(source, tmp_path / "out", "xception-e02", {})
    left = {p.name for p in (tmp_path / "out").iterdir()}
    assert left == {"manifest.json", *(p["file"] for p in second["parts"])}
    assert not {p["file"] for p in first["parts"]} & left


def test_updating_the_manifest_keeps_the_parts_it_names(tmp_path, arrays):
    source = weights_file(tmp_path / "best.weights.h5", arrays)
    written = parts.write_parts(source, tmp_path / "out", "xception-e01", {"state": {"epoch": 1}})
    updated = parts.update_manifest(tmp_path / "out", {"state": {"epoch": 2}})
    assert updated["parts"] == written["parts"] and updated["state"] == {"epoch": 2}
    parts.read_parts(tmp_path / "out")


def test_a_missing_part_is_refused(tmp_path, arrays, small_parts):
    source = weights_file(tmp_path / "best.weights.h5", arrays)
    manifest = parts.write_parts(source, tmp_path / "out", "xception-e01", {})
    (tmp_path / "out" / manifest["parts"][-1]["file"]).unlink()
    with pytest.raises(ValueError, match="is missing"):
        parts.read_parts(tmp_path / "out")


def test_a_part_from_another_export_is_refused(tmp_path, arrays, small_parts):
    source = weights_file(tmp_path / "best.weights.h5", arrays)
    manifest = parts.write_parts(source, tmp_path / "out", "xception-e01", {})
    first = tmp_path / "out" / manifest["parts"][0]["file"]
    first.write_bytes(b"\0" + first.read_bytes()[1:])
    with pytest.raises(ValueError, match="not the part the manifest names"):
        parts.read_parts(tmp_path / "out")


def test_no_manifest_means_the_run_exported_nothing(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(FileNotFoundError, match="exported no weights"):
        parts.read_parts(tmp_path / "out")


def test_too_many_parts_for_the_device_to_return_is_an_error(tmp_path, arrays, monkeypatch):
    monkeypatch.setattr(parts, "PART_BYTES", 256)
    source = weights_file(tmp_path / "best.weights.h5", arrays)
    with pytest.raises(ValueError, match="room for 3"):
        parts.write_parts(source, tmp_path / "out", "xception-e01", {})


def test_joined_arrays_fill_a_template_of_the_same_architecture_as_float32(tmp_path, arrays):
    template = weights_file(tmp_path / "template.weights.h5", {k: np.zeros_like(v) for k, v in arrays.items()})
    halves = parts.to_float16(arrays)
    parts.write_weights_file(halves, template, tmp_path / "xception.weights.h5")
    written = parts.weights_arrays(tmp_path / "xception.weights.h5")
    for name in arrays:
        assert written[name].dtype == np.float32
        np.testing.assert_array_equal(written[name], halves[name].astype("float32"))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.pop("layers/bn/vars/3"), "1 missing"),
        (lambda a: a.__setitem__("layers/extra/vars/0", np.zeros(2, "float16")), "1 unexpected"),
        (lambda a: a.__setitem__("layers/logits/vars/0", np.zeros((16, 5), "float16")), "1 of another shape"),
    ],
)
def test_weights_that_do_not_fit_the_architecture_are_refused_and_nothing_is_written(tmp_path, arrays, change, message):
    template = weights_file(tmp_path / "template.weights.h5", arrays)
    halves = parts.to_float16(arrays)
    change(halves)
    with pytest.raises(ValueError, match=message):
        parts.write_weights_file(halves, template, tmp_path / "xception.weights.h5")
    assert not (tmp_path / "xception.weights.h5").exists()


def test_the_manifest_is_json_a_person_can_read(tmp_path, arrays):
    source = weights_file(tmp_path / "best.weights.h5", arrays)
    parts.write_parts(source, tmp_path / "out", "xception-e01", {"state": {"best": 0.5}})
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert set(manifest) == {"state", "parts", "bytes", "sha256"}
