"""How the refusal gate does on a folder of images that are not brain MRI slices.

The folder holds one sub-folder per category (chest_xray, ct_head, photo…); every image goes
through the engine exactly as an upload would, and again turned by 90°, 180° and 270°: a gate
fitted on upright slices may take a turned image for MRI (the ensemble of runs F and G let 3 of
the development set's 120 turned head CT through). Used by `evaluate_model --ood-dir` and by
`fit_ood` to write the model card's figures.
"""

import io
from pathlib import Path

import numpy as np
from PIL import Image

from scans.ml.errors import ImageError
from scans.ml.evaluation import auroc
from scans.ml.ood import REFUSED

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
TURNS = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}


def turned(data: bytes, degrees: int) -> bytes:
    """The image turned anticlockwise by `degrees` (90, 180 or 270), losslessly, as a PNG."""
    with Image.open(io.BytesIO(data)) as image:
        image = image.transpose(TURNS[degrees])
    if image.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def folder_report(engine, folder: Path, mri_scores: np.ndarray | None = None) -> dict:
    """Refusal rate per category and overall, upright and turned; the AUROC of the learned score
    against `mri_scores` (the same score on real MRI slices) when given; every image not refused."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"No PNG or JPEG images found under {folder}.")
    categories: dict[str, dict] = {}
    scores, not_refused, turned_not_refused = [], [], []
    for path in files:
        relative = path.relative_to(folder)
        category = relative.parts[0] if len(relative.parts) > 1 else "."
        row = categories.setdefault(
            category, {"count": 0, "refused": 0, "uncertain": 0, "unreadable": 0, "turned": 0, "turned_refused": 0}
        )
        row["count"] += 1
        # Files named "<source>__<name>" (as in the shared development set) are also counted by
        # source: a gate that works on one repository's images may fail on another's.
        source = path.name.split("__")[0] if "__" in path.name else None
        counts = row.setdefault("sources", {}).setdefault(source, [0, 0]) if source else None
        if counts is not None:
            counts[0] += 1
        data = path.read_bytes()
        try:
            result = engine.predict(data)
        except ImageError:
            # The upload itself would be rejected: nothing is classified.
            row["unreadable"] += 1
            if counts is not None:
                counts[1] += 1
            continue
        scores.append(result.ood_score)
        for degrees in TURNS:
            turn = engine.predict(turned(data, degrees))
            row["turned"] += 1
            row["turned_refused"] += turn.outcome == REFUSED
            if turn.outcome != REFUSED:
                turned_not_refused.append({**_answer(relative, turn), "turned": degrees})
        if result.outcome == REFUSED:
            row["refused"] += 1
            if counts is not None:
                counts[1] += 1
            continue
        row["uncertain"] += result.outcome == "uncertain"
        not_refused.append(_answer(relative, result))
    for row in categories.values():
        row["refusal_rate"] = round((row["refused"] + row["unreadable"]) / row["count"], 4)
        row["turned_refusal_rate"] = round(row["turned_refused"] / row["turned"], 4) if row["turned"] else None
        if "sources" in row:
            row["sources"] = {name: {"count": n, "refused": r} for name, (n, r) in sorted(row["sources"].items())}
    total = sum(row["count"] for row in categories.values())
    stopped = sum(row["refused"] + row["unreadable"] for row in categories.values())
    turns = sum(row["turned"] for row in categories.values())
    turns_refused = sum(row["turned_refused"] for row in categories.values())
    report = {
        "folder": str(folder),
        "count": total,
        "refused": stopped,
        "refusal_rate": round(stopped / total, 4),
        "categories": categories,
        "not_refused": not_refused,
        "turned": {
            "count": turns,
            "refused": turns_refused,
            "refusal_rate": round(turns_refused / turns, 4) if turns else None,
            "not_refused": turned_not_refused,
        },
    }
    if mri_scores is not None:
        report["auroc"] = round(auroc(np.asarray(mri_scores), np.asarray(scores)), 4)
    return report


def summary_lines(report: dict) -> list[str]:
    """One line per category and one for all, as the commands print them."""
    rows = [(name, row, row["turned_refusal_rate"]) for name, row in report["categories"].items()]
    rows.append(("all", report, report["turned"]["refusal_rate"]))
    lines = []
    for name, row, turned_rate in rows:
        turned_text = "not measured" if turned_rate is None else f"{turned_rate:6.1%}"
        lines.append(f"  refused {row['refusal_rate']:6.1%} of {row['count']:>4}, turned {turned_text}  {name}")
    return lines


def _answer(relative: Path, result) -> dict:
    return {
        "file": str(relative),
        "outcome": result.outcome,
        "label": result.label,
        "confidence": round(result.confidence, 4),
        "ood_score": result.ood_score,
    }
