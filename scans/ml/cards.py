"""Model cards: the JSON written next to the weights, and its Markdown rendering for people."""

import json
from pathlib import Path

from scans.ml.classes import CLASS_NAMES

# A known limit of every model trained on this dataset: the card's Markdown and the portal's
# model-card page both say it.
PLANE_AND_SEQUENCE_LIMIT = (
    "Plane and sequence go with the class: the tumour slices (the figshare part) are post-contrast T1 in all "
    "three planes, the no-tumour slices nearly all axial and of many sequences (on contact sheets of 48 random "
    "training slices each: tumour 18 axial, 17 coronal, 13 sagittal; no tumour 45 axial, 3 sagittal). On a "
    "coronal or sagittal slice of a normal brain the model may call a tumour where there is none."
)

# What cards written before the training step recorded its augmentation were trained with.
PRE_BIAS_FIELD_AUGMENTATION = (
    "flips, ±12° rotation, ±12% scale, shifts, brightness, contrast, gamma, CLAHE, blur, sharpening, "
    "down-and-up scaling, JPEG quality 20–90, noise"
)


HEAD_DESCRIPTIONS = {
    "gap": "global average pooling",
    "attention": "attention pooling weighted by the network's own tumour map (supervised by the masks)",
}


def write_card(card: dict, json_path: Path) -> Path:
    """Write the JSON card and a Markdown twin (same stem, .md); returns the Markdown path."""
    json_path = Path(json_path)
    json_path.write_text(json.dumps(card, indent=2) + "\n")
    markdown_path = json_path.with_name(json_path.name.replace(".card.json", ".card.md"))
    markdown_path.write_text(render_markdown(card))
    return markdown_path


def _not_mri_in_training(card: dict) -> str:
    """What training did with the head CT filed under the classes: an ensemble's own recipe
    holds no training options, so its members' recipes say."""
    recipes = [member["recipe"] for member in card.get("members", [])] or [card["recipe"]]
    exposure = max(recipe.get("outlier_exposure", 0) for recipe in recipes)
    line = f"- {card['data']['left_out_not_brain_mri']} head CT slices filed under the classes were "
    if not exposure:
        return line + "left out of training"
    turned = any(recipe.get("turn_outliers") for recipe in recipes)
    return (
        line
        + f"trained on {exposure}× with a uniform target (outlier exposure)"
        + (", each time turned by a random multiple of 90°" if turned else "")
    )


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
        _initialisation(card),
        f"- calibration temperature: {card['temperature']:.4f}",
        "",
        "## Data and split",
        f"- {data['source']}: {data['images']} images",
        f"- {data['train']} train / {data['validation']} validation; {data['split']}",
        f"- {data['duplicate_groups']} duplicate groups; validation per class: "
        + ", ".join(f"{k} {v}" for k, v in data["validation_per_class"].items()),
        *([_not_mri_in_training(card)] if data.get("left_out_not_brain_mri") else []),
        "",
        "## Recipe",
        f"- command: `{card.get('command', '')}`",
        *(ensemble_recipe_lines(card) if card.get("members") else single_recipe_lines(recipe, training)),
        f"- augmentation: {card.get('augmentation') or PRE_BIAS_FIELD_AUGMENTATION}",
        f"- training time: {training['seconds'] / 60:.1f} min on {training['machine']}",
        "",
        "## Why figures on this dataset read high, and how these are measured",
        "- The dataset holds about 2,600 pairs of left–right mirrored copies of one slice and many slices of "
        "each figshare patient. A random split puts a slice's mirror or neighbour in training and its twin in "
        "validation, so published figures (98–99 %) are partly memory. "
        + (
            "Here each copy, near-copy, mirror and figshare patient sits on one side only (see the split above); "
            "the figures below are on slices whose image, mirror and patient the model never saw."
            if "mirror" in data["split"]
            else "**This model's split grouped only copies and near-copies, so the figures below read high too.**"
        ),
        "",
        "## Validation (held-out, deduplicated)",
        f"- accuracy **{validation['accuracy']:.4f}**, macro-F1 {validation['macro_f1']:.4f}, n = {validation['count']}",
        *(
            [
                f"- accuracy {interval_text(interval)}; one group holds {interval['largest_group_error_share']:.0%} of the errors"
            ]
            if (interval := validation.get("accuracy_interval"))
            else []
        ),
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
    if card.get("localisation"):
        lines += localisation_markdown(card["localisation"])
    if card.get("ood"):
        lines += ood_markdown(card["ood"])
    if card.get("notes"):
        lines += ["", "## Notes on this run", ""] + [f"- {note}" for note in card["notes"]]
    lines += [
        "",
        "## Known limits",
        "- Trained on one public dataset of 2-D slices. Patient ids exist only for its figshare part; the other "
        "images are grouped by copies and mirror images alone, so slices of one of those patients may still sit "
        "on both sides of the split.",
        "- Most tumour images come from one source and most no-tumour images from others: the model may partly "
        "recognise the source. Check that the heat map lies on the brain, not the border.",
        f"- {PLANE_AND_SEQUENCE_LIMIT}",
        "- The refusal gate is measured on a development set of other modalities; kinds of image it has never "
        "been measured on (and head CT most of all) may still get through it, and then get a label."
        if card.get("ood")
        else "- It calls any input one of four classes: CT, other MRI sequences, other organs or non-axial slices "
        "get a confident but meaningless answer.",
        "",
    ]
    return "\n".join(lines)


def single_recipe_lines(recipe: dict, training: dict) -> list[str]:
    return [
        f"- epochs {recipe['epochs']} (ran {training['epochs_run']}, best {training['best_epoch']}), "
        f"batch {recipe['batch_size']}, Adamax lr {recipe['learning_rate']} with cosine decay, seed {recipe['seed']}"
        + (f", split seed {recipe['split_seed']}" if recipe.get("split_seed") is not None else ""),
        f"- {network_description(recipe)}; label smoothing {recipe.get('label_smoothing', 0.0)}; "
        f"auxiliary tumour-map loss weight {recipe.get('tumour_map_weight', 0.0)}"
        + (
            f"; training-only gate head (the refusal gate's feature layers taught to tell the outlier-exposure "
            f"images from MRI), loss weight {recipe['gate_head_weight']}"
            if recipe.get("gate_head_weight")
            else ""
        ),
        f"- after training, BatchNorm statistics re-estimated on "
        f"{training.get('batch_norm_recalibration_images', 0)} clean training images",
    ]


def interval_text(interval: dict) -> str:
    """The interval as cards and reports print it: "95 % interval 0.876–0.966 over 312 …"."""
    return (
        f"{round(interval['level'] * 100)} % interval {interval['low']:.3f}–{interval['high']:.3f} over "
        f"{interval['groups']} patients and copy groups resampled whole"
    )


def network_description(options: dict) -> str:
    return (
        f"head: {HEAD_DESCRIPTIONS[options.get('head', 'gap')]}, on a "
        f"{'14×14' if options.get('fine_map') else '7×7'} last feature map (at 224 px)"
        + (f", last stage {options['last_width']} filters wide" if options.get("last_width", 256) != 256 else "")
    )


def ensemble_recipe_lines(card: dict) -> list[str]:
    """An ensemble's recipe: how its members are combined, then each member's own run."""
    lines = [
        f"- an ensemble of {len(card['members'])} custom CNNs served as one network: each member's logits divided "
        "by its own temperature, averaged, then calibrated again; the heat maps add up every member's map the "
        "same way"
    ]
    for index, member in enumerate(card["members"]):
        recipe = member["recipe"]
        pointing = member.get("localisation", {}).get("gradcam")
        lines.append(
            f"- member {index + 1}: `{member['command']}` — {network_description(recipe)}; epochs {recipe['epochs']} "
            f"(best {member['best_epoch']}), seed {recipe['seed']}; alone: validation accuracy "
            f"{member['validation_accuracy']:.4f}"
            + (f", Grad-CAM pointing game {pointing:.1%}" if pointing is not None else "")
            + f"; {member['seconds'] / 60:.0f} min; sha256 `{member['sha256'][:12]}…`"
        )
    return lines


def _initialisation(card: dict) -> str:
    if card["init"] == "scratch":
        return "- initialisation: scratch (no ImageNet weights were used)"
    if card["init"] == "trained":
        recipe = card["recipe"]
        return (
            f"- initialisation: fine-tuned from `{recipe['trained_weights']}` "
            f"(sha256 `{recipe['trained_weights_sha256'][:16]}…`), on the same split"
        )
    return f"- initialisation: {card['init']}"


def ood_markdown(ood: dict) -> list[str]:
    """The refusal and abstention section: how it works, its limits and what they cost."""
    validation = ood["validation"]
    lines = [
        "",
        "## Refusal and abstention",
        f"- statistics: `{ood['file']}`, sha256 `{ood['sha256']}` (checked with the weights)",
        f"- method: {ood['method']}; layers {', '.join(f'`{v}`' for v in ood['views'])}",
        f"- input checks (limits from the training slices): colour above {ood['max_colour_fraction']:.0%} of pixels, "
        f"aspect ratio above {ood['max_aspect_ratio']:.2f} : 1, dark background below "
        f"{ood['min_dark_fraction']:.1%} of pixels",
        f"- score limit {ood['score_limit']:.3f} (1 is a typical training slice), chosen so that at most 1 % of "
        f"the validation slices are refused; confidence threshold {ood['confidence_threshold']:.4f}, the lowest "
        f"whose called validation slices are at least {ood.get('target_accuracy', 0.995):.1%} accurate"
        + (
            f", lowered where needed so that at least {ood['min_coverage']:.0%} of them are called"
            if ood.get("min_coverage")
            else ""
        ),
        f"- command: `{ood.get('command', '')}`",
    ]
    left_out = ood.get("left_out_not_brain_mri")
    if left_out and left_out["train"] + left_out["validation"]:
        lines.append(
            f"- left out of the fit: {left_out['train']} training and {left_out['validation']} validation images that "
            f"are not brain MRI (head CT filed under the classes; listed in `{left_out['list']}`)"
        )
    equalised = ood["fitted_on"].get("equalised_copies")
    if equalised:
        lines.append(
            f"- also fitted on {equalised} globally equalised copies of training slices: the network was trained "
            "with such copies and reads them as MRI"
        )
    lines += [
        "",
        f"Validation ({ood['fitted_on']['validation']} slices, the ones the limits were chosen on):",
        "",
        f"- refused (false refusals): **{validation['false_refusal_rate']:.2%}** "
        f"({validation['refused_by_input_checks']} by the input checks, {validation['refused_by_score']} by the score)",
        f"- coverage (classified, not uncertain or refused): **{validation['coverage']:.2%}**; accuracy on what is "
        f"called **{validation['accuracy_called']:.2%}** (all slices: {validation['accuracy_all']:.2%}); "
        f"uncertain: {validation['uncertain']}",
    ]
    honest = validation.get("cross_fitted")
    if honest:
        lines.append(
            f"- chosen on one random half and measured on the other ({honest['splits']} splits, the honest "
            f"estimate): refused {honest['false_refusal_rate']:.2%} (worst split {honest['false_refusal_rate_worst']:.2%}), "
            f"coverage {honest['coverage']:.2%}, accuracy on what is called {honest['accuracy_called']:.2%} "
            f"(worst split {honest['accuracy_called_worst']:.2%})"
        )
    after_export = validation.get("false_refusal_after_export")
    if after_export:
        lines.append(
            "- refused after an export perturbation (false refusals of the same slices): "
            + ", ".join(f"{name} {rate:.1%}" for name, rate in after_export.items())
        )
    lines += [
        "",
        "Risk–coverage (calling only the most confident non-refused validation slices):",
        "",
        "| coverage | confidence threshold | accuracy on what is called |",
        "|---|---|---|",
    ]
    for row in validation["risk_coverage"]:
        lines.append(f"| {row['coverage']:.1%} | {row['threshold']:.4f} | {row['accuracy']:.2%} |")
    development = ood.get("development_set")
    if development:
        lines += [
            "",
            f"Development set of non-MRI images (`{development['folder']}`; no limit was fitted to it): "
            f"**{development['refusal_rate']:.1%}** of {development['count']} refused; AUROC of the score "
            f"against the validation slices {development['auroc']:.4f}.",
            "",
            "| category | images | refused | uncertain (not refused) | refused per source | refused turned 90°, 180°, 270° |",
            "|---|---|---|---|---|---|",
        ]
        for name, row in development["categories"].items():
            sources = ", ".join(
                f"{source} {counts['refused']}/{counts['count']}" for source, counts in row.get("sources", {}).items()
            )
            turned = row.get("turned_refusal_rate")
            turned_text = "not measured" if turned is None else f"{turned:.1%} of {row['turned']}"
            lines.append(
                f"| {name} | {row['count']} | {row['refusal_rate']:.1%} | {row['uncertain']} | {sources} | {turned_text} |"
            )
        missed = development.get("not_refused", [])
        if missed:
            lines += [
                "",
                "Not refused: "
                + ", ".join(f"`{m['file']}` ({m['outcome']}, score {m['ood_score']:.2f})" for m in missed),
            ]
        turned_missed = development.get("turned", {}).get("not_refused", [])
        if turned_missed:
            lines += [
                "",
                "Not refused when turned: "
                + ", ".join(
                    f"`{m['file']}` turned {m['turned']}° ({m['outcome']}, score {m['ood_score']:.2f})"
                    for m in turned_missed
                ),
            ]
    if ood.get("notes"):
        lines += ["", "How these figures should be read:", ""] + [f"- {note}" for note in ood["notes"]]
    return lines


def localisation_markdown(localisation: dict) -> list[str]:
    """Where the heat maps point, scored against the tumour masks of validation patients."""
    lines = [
        "",
        "## Where the heat maps point (validation images with a tumour mask)",
        "Pointing game: the map's peak lies on the tumour or within 15 px of it; energy: the share of the map "
        "inside the mask. Masks exist for the figshare images only (glioma, most meningioma and pituitary).",
        "",
        "| map | pointing game | energy inside the mask | images |",
        "|---|---|---|---|",
    ]
    for name, row in localisation.items():
        lines.append(f"| {name} | {row['pointing_game']:.1%} | {row['energy_inside']:.1%} | {row['images']} |")
    return lines
