"""Model cards: the JSON written next to the weights, and its Markdown rendering for people."""

import json
from pathlib import Path

from scans.ml.classes import CLASS_NAMES


def write_card(card: dict, json_path: Path) -> Path:
    """Write the JSON card and a Markdown twin (same stem, .md); returns the Markdown path."""
    json_path = Path(json_path)
    json_path.write_text(json.dumps(card, indent=2) + "\n")
    markdown_path = json_path.with_name(json_path.name.replace(".card.json", ".card.md"))
    markdown_path.write_text(render_markdown(card))
    return markdown_path


def render_markdown(card: dict) -> str:
    validation, data, training = card["validation"], card["data"], card["training"]
    recipe = card["recipe"]
    lines = [
        f"# Model card: {card['model']}",
        "",
        "Research software, not a medical device: every result needs a radiologist's review.",
        "",
        "## Weights",
        f"- file: `{card['weights_file']}`",
        f"- sha256: `{card['sha256']}`",
        f"- input: {card['input_size']}×{card['input_size']}×3; classes: {', '.join(card['class_names'])}",
        f"- initialisation: {card['init']} (no ImageNet weights were used)"
        if card["init"] == "scratch"
        else f"- initialisation: {card['init']}",
        f"- calibration temperature: {card['temperature']:.4f}",
        "",
        "## Data and split",
        f"- {data['source']}: {data['images']} images",
        f"- {data['train']} train / {data['validation']} validation; {data['split']}",
        f"- {data['duplicate_groups']} duplicate groups; validation per class: "
        + ", ".join(f"{k} {v}" for k, v in data["validation_per_class"].items()),
        "",
        "## Recipe",
        f"- command: `{card.get('command', '')}`",
        f"- epochs {recipe['epochs']} (ran {training['epochs_run']}, best {training['best_epoch']}), "
        f"batch {recipe['batch_size']}, Adamax lr {recipe['learning_rate']} with cosine decay, seed {recipe['seed']}",
        "- augmentation: flips, ±12° rotation, ±12% scale, shifts, brightness, contrast, gamma, CLAHE, "
        "blur, sharpening, down-and-up scaling, JPEG quality 20–90, noise",
        f"- after training, BatchNorm statistics re-estimated on "
        f"{training.get('batch_norm_recalibration_images', 0)} clean training images",
        f"- training time: {training['seconds'] / 60:.1f} min on {training['machine']}",
        "",
        "## Validation (held-out, deduplicated)",
        f"- accuracy **{validation['accuracy']:.4f}**, macro-F1 {validation['macro_f1']:.4f}, n = {validation['count']}",
        f"- ECE (15 bins): {validation['ece_before_calibration']:.4f} before, "
        f"{validation['ece_after_calibration']:.4f} after temperature scaling",
        "",
        "| class | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for name, row in validation["per_class"].items():
        lines.append(f"| {name} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} | {row['support']} |")
    lines += ["", "Confusion matrix (rows true, columns predicted):", "", "| | " + " | ".join(CLASS_NAMES) + " |"]
    lines.append("|---" * (len(CLASS_NAMES) + 1) + "|")
    for name, row in zip(CLASS_NAMES, validation["confusion_matrix"]):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    lines += ["", "## Robustness (validation accuracy after each export perturbation)", ""]
    lines += ["| perturbation | accuracy | change |", "|---|---|---|"]
    for name, accuracy in card["robustness"].items():
        lines.append(f"| {name} | {accuracy:.4f} | {100 * (accuracy - validation['accuracy']):+.1f} pt |")
    sanity = card.get("sanity")
    if sanity:
        lines += [
            "",
            "## Heat-map sanity test (model randomisation, Adebayo et al. 2018)",
            f"Mean Spearman rank correlation between maps of the trained and a re-initialised network over "
            f"{sanity['images']} validation images (pass below {sanity['pass_below']}):",
            "",
            f"- Grad-CAM: {sanity['gradcam']['mean_spearman']:.3f} — "
            + ("passes" if sanity["gradcam"]["passes"] else "FAILS"),
            f"- guided backprop: {sanity['guided_backprop']['mean_spearman']:.3f} — "
            + ("passes" if sanity["guided_backprop"]["passes"] else "fails: it largely shows the image's edges"),
        ]
    if card.get("notes"):
        lines += ["", "## Notes on this run", ""] + [f"- {note}" for note in card["notes"]]
    lines += [
        "",
        "## Known limits",
        "- Trained on one public dataset of 2-D slices with no patient ids; slices of one patient may sit on "
        "both sides of the split even after near-duplicate grouping.",
        "- Most tumour images come from one source and most no-tumour images from others: the model may partly "
        "recognise the source. Check that the heat map lies on the brain, not the border.",
        "- It calls any input one of four classes: CT, other MRI sequences, other organs or non-axial slices get "
        "a confident but meaningless answer.",
        "",
    ]
    return "\n".join(lines)
