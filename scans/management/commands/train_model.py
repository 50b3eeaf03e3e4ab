"""python manage.py train_model --model NAME --data DIR --out FILE.weights.h5 [recipe options] [--resume DIR]."""

import shlex
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from scans.ml import registry
from scans.ml.errors import RecipeError, WeightsError


class Command(BaseCommand):
    help = "Train a model from a folder with one sub-folder per class; writes weights and a model card."

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True, choices=registry.MODEL_NAMES)
        parser.add_argument("--data", required=True, metavar="DIR", help="one sub-folder per class")
        parser.add_argument("--out", required=True, metavar="FILE", help="weights file, must end in .weights.h5")
        parser.add_argument("--epochs", type=int, default=24)
        parser.add_argument("--batch-size", type=int, default=32)
        parser.add_argument("--learning-rate", type=float, default=2e-3)
        parser.add_argument("--seed", type=int, default=42, help="seeds the weights, batches and augmentation")
        parser.add_argument("--split-seed", type=int, help="seeds the validation split (default: --seed)")
        parser.add_argument("--resolution", type=int, help="input side in pixels (default: the model's own)")
        parser.add_argument("--validation-fraction", type=float, default=0.15)
        parser.add_argument("--patience", type=int, default=8, help="early-stopping patience in epochs")
        parser.add_argument("--steps-per-epoch", type=int, help="cap the batches per epoch (rehearsals)")
        parser.add_argument(
            "--init",
            choices=("scratch", "imagenet", "trained"),
            default="scratch",
            help="trained: fine-tune a model this command trained (--trained-weights), e.g. with a new augmentation",
        )
        parser.add_argument(
            "--imagenet-weights", metavar="FILE", help="Keras ImageNet weights file for --init imagenet"
        )
        parser.add_argument(
            "--trained-weights",
            metavar="FILE",
            help="weights for --init trained, with their model card beside them: same network and split",
        )
        parser.add_argument(
            "--tumour-map-weight",
            type=float,
            default=0.5,
            help="weight of the auxiliary tumour-location loss on images with a mask (0: off)",
        )
        parser.add_argument(
            "--head",
            choices=("gap", "attention"),
            help="custom_cnn's pooling: attention (weighted by its tumour map, the default) or gap (plain average)",
        )
        parser.add_argument(
            "--fine-map",
            action="store_true",
            help="custom_cnn without the pooling before its last stage: 14×14 heat maps instead of 7×7",
        )
        parser.add_argument(
            "--last-width",
            type=int,
            metavar="N",
            help="filters of custom_cnn's last stage (256; 384 costs about 1.5× the computation with --fine-map)",
        )
        parser.add_argument(
            "--outlier-exposure",
            type=int,
            default=4,
            metavar="N",
            help="add each training image listed as not brain MRI N times with a uniform target (0: leave them out); "
            "leaving them out cost the refusal gate half its head CT refusals",
        )
        parser.add_argument(
            "--turn-outliers",
            action="store_true",
            help="turn each outlier-exposure image by a random multiple of 90° (measured once: no better "
            "refusal of turned head CT)",
        )
        parser.add_argument(
            "--label-smoothing", type=float, default=0.1, help="label smoothing of the class targets (0: off)"
        )
        parser.add_argument(
            "--gate-head-weight",
            type=float,
            default=0.0,
            metavar="W",
            help="weight of a training-only loss that teaches the refusal gate's feature layers to tell the "
            "outlier-exposure images from MRI (0: off)",
        )
        parser.add_argument(
            "--equalize-augmentation",
            type=float,
            default=0.0,
            metavar="P",
            help="share of training images given global histogram equalisation, as some export tools apply (0: off)",
        )
        parser.add_argument(
            "--checkpoint-dir",
            metavar="DIR",
            help="where each epoch's resumable state goes (default: .<model>-checkpoint beside --out)",
        )
        parser.add_argument(
            "--resume",
            metavar="DIR",
            help="continue the run checkpointed in DIR with its own recipe (other recipe options are ignored)",
        )

    def handle(self, *args, **options):
        recipe = self._recipe(options)
        from scans.ml.heatmap_checks import write_card_with_heatmap_checks
        from scans.ml.training import train

        checkpoint_dir = options["resume"] or options["checkpoint_dir"]
        try:
            card = train(
                Path(options["data"]),
                Path(options["out"]),
                recipe,
                log=self.stdout.write,
                checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else None,
                resume=bool(options["resume"]),
            )
        except (FileNotFoundError, FileExistsError, RecipeError) as exc:
            raise CommandError(str(exc)) from None
        card["command"] = "python manage.py train_model " + shlex.join(sys.argv[2:])
        card_json, markdown = write_card_with_heatmap_checks(
            card, Path(options["data"]), Path(options["out"]), self.stdout.write
        )
        validation = card["validation"]
        self.stdout.write(
            f"validation accuracy {validation['accuracy']:.4f}, ECE {validation['ece_before_calibration']:.4f} → "
            f"{validation['ece_after_calibration']:.4f}; card: {card_json} and {markdown}"
        )

    def _recipe(self, options):
        from scans.ml.training import Recipe

        data, out = Path(options["data"]), Path(options["out"])
        if not data.is_dir():
            raise CommandError(f"--data {data} is not a folder.")
        if not out.name.endswith(".weights.h5"):
            raise CommandError(f"--out must end in .weights.h5 (got {out.name}).")
        for name in ("epochs", "batch_size", "patience"):
            if options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1.")
        if options["resume"] and not Path(options["resume"], "state.json").is_file():
            raise CommandError(f"--resume {options['resume']} holds no checkpointed run (no state.json).")
        if not 0 <= options["tumour_map_weight"] <= 10:
            raise CommandError("--tumour-map-weight must be between 0 and 10.")
        if not 0 <= options["outlier_exposure"] <= 20:
            raise CommandError("--outlier-exposure must be between 0 and 20.")
        if not 0 <= options["gate_head_weight"] <= 10:
            raise CommandError("--gate-head-weight must be between 0 and 10.")
        if options["gate_head_weight"] and not options["outlier_exposure"]:
            raise CommandError(
                "--gate-head-weight needs --outlier-exposure: the head learns to tell those images from MRI."
            )
        if options["gate_head_weight"] and not options["tumour_map_weight"]:
            raise CommandError("--gate-head-weight needs the tumour map (--tumour-map-weight above 0).")
        if options["turn_outliers"] and not options["outlier_exposure"]:
            raise CommandError("--turn-outliers needs --outlier-exposure: it turns those images.")
        if not 0 <= options["equalize_augmentation"] <= 1:
            raise CommandError("--equalize-augmentation must be between 0 and 1 (a share of the training images).")
        if not 0 <= options["label_smoothing"] < 0.5:
            raise CommandError("--label-smoothing must be at least 0 and below 0.5.")
        head = options["head"] or ("attention" if options["model"] == "custom_cnn" else "gap")
        if options["model"] == "xception" and head != "gap":
            raise CommandError("--head attention is for custom_cnn; Xception keeps the origin's head (gap).")
        if options["model"] == "xception" and options["fine_map"]:
            raise CommandError("--fine-map is for custom_cnn; Xception keeps the origin's resolution.")
        last_width = Recipe.last_width if options["last_width"] is None else options["last_width"]
        if options["model"] == "xception" and last_width != Recipe.last_width:
            raise CommandError("--last-width is for custom_cnn; Xception keeps its own layers.")
        if not 32 <= last_width <= 1024:
            raise CommandError("--last-width must be between 32 and 1024 filters.")
        if not 0.05 <= options["validation_fraction"] <= 0.5:
            raise CommandError("--validation-fraction must be between 0.05 and 0.5.")
        if options["init"] == "imagenet":
            weights = options["imagenet_weights"]
            if not weights or not Path(weights).is_file():
                raise CommandError("--init imagenet needs --imagenet-weights FILE (a Keras ImageNet weights file).")
        elif options["imagenet_weights"]:
            raise CommandError("--imagenet-weights is only used with --init imagenet.")
        if options["init"] != "trained" and options["trained_weights"]:
            raise CommandError("--trained-weights is only used with --init trained.")
        resolution = options["resolution"] or registry.ARCHITECTURE_FACTS[options["model"]].input_size
        if not 64 <= resolution <= 640:
            raise CommandError("--resolution must be between 64 and 640 pixels.")
        recipe = Recipe(
            model=options["model"],
            input_size=resolution,
            epochs=options["epochs"],
            batch_size=options["batch_size"],
            learning_rate=options["learning_rate"],
            seed=options["seed"],
            split_seed=options["split_seed"],
            validation_fraction=options["validation_fraction"],
            patience=options["patience"],
            init=options["init"],
            imagenet_weights=options["imagenet_weights"],
            steps_per_epoch=options["steps_per_epoch"],
            tumour_map_weight=options["tumour_map_weight"],
            head=head,
            fine_map=options["fine_map"],
            last_width=last_width,
            label_smoothing=options["label_smoothing"],
            outlier_exposure=options["outlier_exposure"],
            gate_head_weight=options["gate_head_weight"],
            equalize_augmentation=options["equalize_augmentation"],
            turn_outliers=options["turn_outliers"],
        )
        if recipe.init == "trained":
            self._check_fine_tune(recipe, options["trained_weights"])
        return recipe

    def _check_fine_tune(self, recipe, weights: str | None) -> None:
        """The weights must exist and carry their card (written beside them, as for any model this
        command trains), whose network and split this run keeps."""
        from scans.ml.training import fine_tune_mismatches, sha256_of

        if not weights or not Path(weights).is_file():
            raise CommandError("--init trained needs --trained-weights FILE (a .weights.h5 this command wrote).")
        try:
            mismatches = fine_tune_mismatches(recipe, registry.read_card(recipe.model, Path(weights).parent))
        except WeightsError as error:
            raise CommandError(f"--trained-weights: {error} The card says which network and split to keep.") from None
        except (KeyError, TypeError) as error:
            raise CommandError(f"--trained-weights: its model card lacks a readable recipe ({error}).") from None
        if mismatches:
            raise CommandError(
                "--trained-weights were trained with another network or split; give the same options ("
                + "; ".join(mismatches)
                + "), or their training images would be measured as validation."
            )
        recipe.trained_weights = weights
        recipe.trained_weights_sha256 = sha256_of(Path(weights))
