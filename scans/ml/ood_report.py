"""How the refusal gate does on a folder of images that are not brain MRI slices.

The folder holds one sub-folder per category (chest_xray, ct_head, photo…); every image goes
through the engine exactly as an upload would. Used by `evaluate_model --ood-dir` and by
`fit_ood` to write the model card's figures.
"""

from pathlib import Path

import numpy as np

from scans.ml.errors import ImageError
from scans.ml.evaluation import auroc
from scans.ml.ood import REFUSED

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def folder_report(engine, folder: Path, mri_scores: np.ndarray | None = None) -> dict:
    """Refusal rate per category and overall; the AUROC of the learned score against
    `mri_scores` (the same score on real MRI slices) when given; every image not refused."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"No PNG or JPEG images found under {folder}.")
    categories: dict[str, dict] = {}
    scores, not_refused = [], []
    for path in files:
        relative = path.relative_to(folder)
        category = relative.parts[0] if len(relative.parts) > 1 else "."
        row = categories.setdefault(category, {"count": 0, "refused": 0, "uncertain": 0, "unreadable": 0})
        row["count"] += 1
        # Files named "<source>__<name>" (as in the shared development set) are also counted by
        # source: a gate that works on one repository's images may fail on another's.
        source = path.name.split("__")[0] if "__" in path.name else None
        counts = row.setdefault("sources", {}).setdefault(source, [0, 0]) if source else None
        if counts is not None:
            counts[0] += 1
        try:
            result = engine.predict(path.read_bytes())
        except ImageError:
            # The upload itself would be rejected: nothing is classified.
            row["unreadable"] += 1
            if counts is not None:
                counts[1] += 1
            continue
        scores.append(result.ood_score)
        if result.outcome == REFUSED:
            row["refused"] += 1
            if counts is not None:
                counts[1] += 1
            continue
        row["uncertain"] += result.outcome == "uncertain"
        not_refused.append(
            {
                "file": str(relative),
                "outcome": result.outcome,
                "label": result.label,
                "confidence": round(result.confidence, 4),
                "ood_score": result.ood_score,
            }
        )
    for row in categories.values():
        row["refusal_rate"] = round((row["refused"] + row["unreadable"]) / row["count"], 4)
        if "sources" in row:
            row["sources"] = {name: {"count": n, "refused": r} for name, (n, r) in sorted(row["sources"].items())}
    total = sum(row["count"] for row in categories.values())
    stopped = sum(row["refused"] + row["unreadable"] for row in categories.values())
    report = {
        "folder": str(folder),
        "count": total,
        "refused": stopped,
        "refusal_rate": round(stopped / total, 4),
        "categories": categories,
        "not_refused": not_refused,
    }
    if mri_scores is not None:
        report["auroc"] = round(auroc(np.asarray(mri_scores), np.asarray(scores)), 4)
    return report
