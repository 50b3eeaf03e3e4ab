"""The split keeps a slice, its copies, its mirror image and its patient on one side."""

import numpy as np

from scans.ml.dataset import Sample, duplicate_groups, list_samples, mirror_pairs, patient_ids, stratified_group_split
from tests.ml.images import encode, head

MANIFEST_HEADER = "file\tmask_file\tfigshare_index\tlabel_figshare\tpid\torientation\n"


def write_dataset(root, images: dict[str, np.ndarray], pids: dict[str, str] | None = None):
    training = root / "Training"
    for name, array in images.items():
        path = training / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(array))
    if pids:
        (root / "masks").mkdir()
        rows = "".join(f"{name}\t{name}\t1\tglioma\t{pid}\tidentity\n" for name, pid in pids.items())
        (root / "masks" / "MANIFEST.tsv").write_text(MANIFEST_HEADER + rows)
    return training


def test_a_mirrored_copy_is_found_and_grouped_with_its_original(tmp_path):
    original = head(200, 200, (0.25, 0.4), seed=1)
    training = write_dataset(
        tmp_path,
        {
            "glioma/a.png": original,
            "glioma/b.png": original[:, ::-1],
            "glioma/c.png": head(200, 200, (0.7, 0.7), seed=2),
        },
    )
    paths = [s.path for s in list_samples_of(training)]
    assert (0, 1) in mirror_pairs(paths)
    groups = duplicate_groups(paths)
    assert groups[0] == groups[1] != groups[2]


def test_slices_of_one_patient_family_share_a_group(tmp_path):
    training = write_dataset(
        tmp_path,
        {
            "glioma/a.png": head(200, 200, (0.3, 0.3), seed=1),
            "glioma/b.png": head(160, 220, (0.7, 0.6), seed=5),
            "glioma/c.png": head(240, 180, (0.5, 0.8), seed=9),
        },
        # A trailing letter marks another series of the same person (masks README, caveat 1).
        pids={"glioma/a.png": "MR039473", "glioma/b.png": "MR039473B", "glioma/c.png": "MR000001"},
    )
    paths = [s.path for s in list_samples_of(training)]
    assert patient_ids(training, paths) == ["MR039473", "MR039473", "MR000001"]
    groups = duplicate_groups(paths, training)
    assert groups[0] == groups[1] != groups[2]


def test_images_without_a_patient_manifest_have_no_patient(tmp_path):
    training = write_dataset(tmp_path, {"glioma/a.png": head(100, 100, seed=1)})
    assert patient_ids(training, [training / "glioma/a.png"]) == [None]


def test_the_split_never_puts_one_group_on_both_sides():
    samples = [Sample(path=None, label=i % 4) for i in range(80)]
    groups = np.array([i // 3 for i in range(80)])
    train, validation = stratified_group_split(samples, groups, 0.25, seed=0)
    assert set(groups[train]).isdisjoint(groups[validation])
    assert sorted(train + validation) == list(range(80))


def list_samples_of(training):
    for name in ("glioma", "meningioma", "notumor", "pituitary"):
        (training / name).mkdir(exist_ok=True)
    return list_samples(training)
