"""python manage.py evaluate_model --model NAME DATA_DIR [--json] [--plots DIR] [--robustness]."""

import json
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from scans.ml import evaluation, registry
from scans.ml.classes import CLASS_NAMES
from scans.ml.dataset import list_samples
from scans.ml.errors import ImageError, WeightsError


class Command(BaseCommand):
    help = "Measure a trained model on a folder with one sub-folder per class."

    def add_arguments(self, parser):
        parser.add_argument("data_dir", metavar="DATA_DIR")
        parser.add_argument("--model", default=registry.DEFAULT_MODEL, choices=registry.MODEL_NAMES)
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
        parser.add_argument("--plots", metavar="DIR", help="save confusion-matrix and reliability PNGs here")
        parser.add_argument("--robustness", action="store_true", help="also measure under export perturbations")
        parser.add_argument("--files", metavar="LIST", help="evaluate only these paths (one per line, relative)")

    def handle(self, *args, data_dir, model, **options):
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

        grays, labels, skipped = [], [], []
        for sample in samples:
            try:
                grays.append(decode_scan(sample.path.read_bytes()))
                labels.append(sample.label)
            except (ImageError, OSError) as exc:
                skipped.append({"file": str(sample.path), "error": str(exc)})
        labels = np.array(labels)
        size = engine.spec.input_size
        inputs = np.stack([model_input(g, size) for g in grays])
        probs = evaluation.logits_of(engine.probabilities, inputs)
        report = {"model": model, "model_version": engine.version, **evaluation.classification_report(probs, labels)}
        report["skipped"] = skipped
        if options["robustness"]:
            report["robustness"] = evaluation.robustness_report(engine.probabilities, grays, labels, size)
        if options["plots"]:
            self._save_plots(Path(options["plots"]), report, probs, labels)
        self.stdout.write(json.dumps(report, indent=2) if options["json"] else self._as_text(report))

    def _save_plots(self, folder: Path, report: dict, probs, labels) -> None:
        from scans.ml.plots import confusion_matrix_png, reliability_png

        folder.mkdir(parents=True, exist_ok=True)
        confusion_matrix_png(report["confusion_matrix"], folder / "confusion_matrix.png")
        reliability_png(evaluation.reliability_bins(probs, labels), folder / "reliability.png")

    def _as_text(self, report: dict) -> str:
        lines = [
            f"model {report['model']} ({report['model_version'][:12]}…) on {report['count']} images",
            f"accuracy  {report['accuracy']:.4f}",
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
        for name, accuracy in report.get("robustness", {}).items():
            lines.append(f"robustness {name:<18}{accuracy:.4f}")
        for item in report["skipped"]:
            lines.append(f"skipped {item['file']}: {item['error']}")
        return "\n".join(lines)
