"""python manage.py fit_ood --model NAME --data DATA_DIR [--weights-dir DIR] [--ood-dir DIR].

(Re)fits a trained model's refusal and abstention statistics (scans.ml.ood) without
retraining it: the split is the one its card records (`validation_files`; every other image
under DATA_DIR trained it), the statistics go beside the weights as <name>.ood.npz, and the
card gains their sha256, limits and figures. With --ood-dir, the card also gets the refusal
rate per category of that folder of non-MRI images and the score's AUROC against validation.
"""

import shlex
import sys
import time
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from scans.ml import registry
from scans.ml.dataset import list_samples
from scans.ml.errors import ImageError, WeightsError


class Command(BaseCommand):
    help = "Fit a trained model's out-of-distribution statistics and abstention threshold; updates its card."

    def add_arguments(self, parser):
        parser.add_argument("--model", default=registry.DEFAULT_MODEL, choices=registry.MODEL_NAMES)
        parser.add_argument("--data", required=True, metavar="DIR", help="the training data, one sub-folder per class")
        parser.add_argument("--weights-dir", metavar="DIR", help=f"default: {registry.WEIGHTS_DIR}")
        parser.add_argument("--ood-dir", metavar="DIR", help="non-MRI images, one sub-folder per category")

    def handle(self, *args, model, data, weights_dir, ood_dir, **options):
        from scans.ml import ood_fit
        from scans.ml.architectures import ARCHITECTURES
        from scans.ml.cards import write_card
        from scans.ml.preprocess import decode_scan

        started = time.perf_counter()
        weights_dir = Path(weights_dir) if weights_dir else registry.WEIGHTS_DIR
        data_dir = Path(data)
        try:
            registry.verify_weights_file(model, weights_dir)
            spec = registry.get_spec(model, weights_dir)
            card = registry.read_card(model, weights_dir)
            samples = list_samples(data_dir)
        except (WeightsError, FileNotFoundError, NotADirectoryError) as exc:
            raise CommandError(str(exc)) from None
        if ood_dir and not Path(ood_dir).is_dir():
            raise CommandError(f"--ood-dir {ood_dir} is not a folder.")
        validation = set(card.get("validation_files") or [])
        if not validation:
            raise CommandError(f"{spec.card_path} lists no validation_files: the split cannot be rebuilt.")
        relative = [str(s.path.relative_to(data_dir)) for s in samples]
        found = sum(name in validation for name in relative)
        if found != len(validation):
            raise CommandError(
                f"{len(validation) - found} of the card's {len(validation)} validation files are not under {data_dir}."
            )
        # Head CT filed among the classes is neither fitted as normal nor counted as a false refusal.
        not_mri = ood_fit.known_not_brain_mri()
        kept = [i for i, name in enumerate(relative) if name not in not_mri]
        left_out = {"train": 0, "validation": 0}
        for name in relative:
            if name in not_mri:
                left_out["validation" if name in validation else "train"] += 1
        samples = [samples[i] for i in kept]
        is_validation = [relative[i] in validation for i in kept]

        self.stdout.write(f"decoding {len(samples)} images…")
        grays = []
        try:
            for sample in samples:
                grays.append(decode_scan(sample.path.read_bytes()))
        except (ImageError, OSError) as exc:
            raise CommandError(f"{sample.path}: {exc}") from None
        labels = np.array([s.label for s in samples])
        is_validation = np.array(is_validation)
        network = ARCHITECTURES[model](spec.input_size, **spec.options)
        network.load_weights(str(spec.weights_path))
        out_path = registry.ood_path(model, weights_dir)
        section = ood_fit.fit_for_model(
            network,
            train_grays=[g for g, v in zip(grays, is_validation) if not v],
            train_labels=labels[~is_validation],
            val_grays=[g for g, v in zip(grays, is_validation) if v],
            val_labels=labels[is_validation],
            temperature=spec.temperature,
            input_size=spec.input_size,
            out_path=out_path,
            equalised_share=card["recipe"].get("equalize_augmentation", 0.0),
            log=self.stdout.write,
        )
        section["left_out_not_brain_mri"] = {
            "list": f"scans/ml/{ood_fit.NOT_BRAIN_MRI_LIST.name}",
            **left_out,
        }
        section["command"] = "python manage.py fit_ood " + shlex.join(sys.argv[2:])
        card["ood"] = section
        card_json = registry.card_path(model, weights_dir)
        write_card(card, card_json)
        if ood_dir:
            section["development_set"] = self._folder_report(model, weights_dir, samples, is_validation, Path(ood_dir))
            write_card(card, card_json)
        self.stdout.write(
            f"wrote {out_path} (sha256 {section['sha256'][:12]}…) and updated {card_json} "
            f"in {time.perf_counter() - started:.0f} s"
        )

    def _folder_report(self, model, weights_dir, samples, is_validation, ood_dir: Path) -> dict:
        from scans.ml.inference import Engine
        from scans.ml.ood_report import folder_report, summary_lines

        engine = Engine(registry.get_spec(model, weights_dir))
        self.stdout.write(f"scoring the validation slices and {ood_dir} through the engine…")
        mri_scores = [engine.predict(s.path.read_bytes()).ood_score for s, v in zip(samples, is_validation) if v]
        report = folder_report(engine, ood_dir, np.array(mri_scores))
        self.stdout.write(f"AUROC against the validation slices {report['auroc']:.4f}; turned: by 90°, 180° and 270°")
        self.stdout.write("\n".join(summary_lines(report)))
        return report
