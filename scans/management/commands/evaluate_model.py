"""python manage.py evaluate_model --model NAME DATA_DIR [--json] [--plots DIR] [--robustness] [--ood-dir DIR].

Beside plain accuracy it reports an interval for it that resamples whole groups (a patient's
slices, a slice's copies and mirror: scans.ml.dataset.duplicate_groups), and what the portal
shows: the share of slices called (classified, neither uncertain nor refused) and the accuracy
on those; with --ood-dir, the refusal rate per sub-folder of a folder of images that are not
brain MRI slices."""

import json
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from scans.ml import evaluation, registry
from scans.ml.cards import interval_text
from scans.ml.classes import CLASS_NAMES
from scans.ml.dataset import duplicate_groups, list_samples
from scans.ml.errors import ImageError, WeightsError
from scans.ml.ood_report import summary_lines


class Command(BaseCommand):
    help = "Measure a trained model on a folder with one sub-folder per class."

    def add_arguments(self, parser):
        parser.add_argument("data_dir", metavar="DATA_DIR")
        parser.add_argument("--model", default=registry.DEFAULT_MODEL, choices=registry.MODEL_NAMES)
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
        parser.add_argument("--plots", metavar="DIR", help="save confusion-matrix and reliability PNGs here")
        parser.add_argument("--robustness", action="store_true", help="also measure under export perturbations")
        parser.add_argument("--files", metavar="LIST", help="evaluate only these paths (one per line, relative)")
        parser.add_argument("--ood-dir", metavar="DIR", help="non-MRI images, one sub-folder per category")
        parser.add_argument(
            "--localisation",
            action="store_true",
            help="pointing game of both heat maps on the images with a tumour mask (DATA_DIR/../masks/<class>/)",
        )

    def handle(self, *args, data_dir, model, **options):
        from scans.ml import ood
        from scans.ml.inference import get_engine
        from scans.ml.preprocess import decode_scan, model_input

        try:
            samples = list_samples(Path(data_dir))
            engine = get_engine(model)
        except (FileNotFoundError, NotADirectoryError, WeightsError) as exc:
            raise CommandError(str(exc)) from None
        if options["files"]:
            wanted = set(Path(options["files"]).read_text().split())
            samples = [s for s in samples if str(s.path.relative_to(data_dir)) in wanted]
        if not samples:
            raise CommandError(f"No PNG or JPEG images found under {data_dir}.")

        if options["ood_dir"] and not Path(options["ood_dir"]).is_dir():
            raise CommandError(f"--ood-dir {options['ood_dir']} is not a folder.")

        grays, labels, paths, input_stats, skipped = [], [], [], [], []
        for sample in samples:
            try:
                data = sample.path.read_bytes()
                gray = decode_scan(data)
                input_stats.append(ood.input_stats(data, gray))
                grays.append(gray)
                labels.append(sample.label)
                paths.append(sample.path)
            except (ImageError, OSError) as exc:
                skipped.append({"file": str(sample.path), "error": str(exc)})
        labels = np.array(labels)
        size = engine.spec.input_size
        probs, scores = [], []
        for start in range(0, len(grays), 64):
            batch_probs, batch_scores = engine.probabilities_and_scores(
                np.stack([model_input(g, size) for g in grays[start : start + 64]])
            )
            probs.append(batch_probs)
            scores.append(batch_scores)
        probs, scores = np.concatenate(probs), np.concatenate(scores)
        outcomes = [engine.ood.decide(st, float(sc), p).outcome for st, sc, p in zip(input_stats, scores, probs)]
        report = {"model": model, "model_version": engine.version, **evaluation.classification_report(probs, labels)}
        report["accuracy_interval"] = evaluation.grouped_accuracy_interval(
            probs.argmax(axis=1) == labels, duplicate_groups(paths, Path(data_dir))
        )
        report["called"] = evaluation.called_report(probs, labels, outcomes)
        report["skipped"] = skipped
        if options["ood_dir"]:
            from scans.ml.ood_report import folder_report

            report["ood"] = folder_report(engine, Path(options["ood_dir"]), scores)
        if options["localisation"]:
            report["localisation"] = self._localisation(engine, samples)
        if options["robustness"]:
            report["robustness"] = evaluation.robustness_report(engine.probabilities, grays, labels, size)
        if options["plots"]:
            self._save_plots(Path(options["plots"]), report, probs, labels)
        self.stdout.write(json.dumps(report, indent=2) if options["json"] else self._as_text(report))

    def _localisation(self, engine, samples) -> dict:
        from scans.ml.localisation import engine_localisation

        report = engine_localisation(engine, [(s.path, CLASS_NAMES[s.label]) for s in samples])
        if report is None:
            raise CommandError("--localisation needs tumour masks in DATA_DIR/../masks/<class>/; none were found.")
        return report

    def _save_plots(self, folder: Path, report: dict, probs, labels) -> None:
        from scans.ml.plots import confusion_matrix_png, reliability_png

        folder.mkdir(parents=True, exist_ok=True)
        confusion_matrix_png(report["confusion_matrix"], folder / "confusion_matrix.png")
        reliability_png(evaluation.reliability_bins(probs, labels), folder / "reliability.png")

    def _as_text(self, report: dict) -> str:
        lines = [
            f"model {report['model']} ({report['model_version'][:12]}…) on {report['count']} images",
            f"accuracy  {report['accuracy']:.4f}  ({interval_text(report['accuracy_interval'])})",
            f"macro-F1  {report['macro_f1']:.4f}",
            f"ECE (15 bins)  {report['ece']:.4f}",
            "",
            f"{'class':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}",
        ]
        for name, row in report["per_class"].items():
            lines.append(
                f"{name:<12}{row['precision']:>10.4f}{row['recall']:>10.4f}{row['f1']:>10.4f}{row['support']:>9}"
            )
        lines += ["", "confusion (rows true, columns predicted: " + ", ".join(CLASS_NAMES) + ")"]
        lines += ["  " + " ".join(f"{v:>5}" for v in row) for row in report["confusion_matrix"]]
        called = report["called"]
        lines += [
            "",
            f"called    {called['coverage']:.4f} of the slices ({called['called']}; "
            f"{called['uncertain']} uncertain, {called['refused']} refused)",
            f"accuracy on what is called  {called['accuracy_called']:.4f}",
        ]
        if "ood" in report:
            lines += [
                "",
                f"not brain MRI: {report['ood']['folder']}, AUROC {report['ood'].get('auroc', float('nan')):.4f}",
            ]
            lines += summary_lines(report["ood"])
        for name, row in report.get("localisation", {}).items():
            lines.append(
                f"{name}: pointing game {row['pointing_game']:.4f}, energy inside the mask "
                f"{row['energy_inside']:.4f} ({row['images']} images with a mask)"
            )
        for name, accuracy in report.get("robustness", {}).items():
            lines.append(f"robustness {name:<18}{accuracy:.4f}")
        for item in report["skipped"]:
            lines.append(f"skipped {item['file']}: {item['error']}")
        return "\n".join(lines)
