"""python manage.py build_ensemble --data DIR --member DIR --member DIR [...] --out FILE.weights.h5.

Puts custom CNNs trained by separate train_model runs on one split together as one registry
model (scans.ml.ensemble), then measures it as train_model measures a single network:
temperature, validation report, robustness, refusal statistics, heat-map sanity test and
pointing game. Writes the weights, custom_cnn.ood.npz and the card beside --out.
"""

import shlex
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from scans.ml import registry
from scans.ml.errors import WeightsError

MODEL = "custom_cnn"


class Command(BaseCommand):
    help = "Assemble trained custom CNNs (one folder each, with weights and card) into one ensemble model."

    def add_arguments(self, parser):
        parser.add_argument("--data", required=True, metavar="DIR", help="the training data the members used")
        parser.add_argument(
            "--member",
            action="append",
            required=True,
            metavar="DIR",
            help="a folder holding a member's weights and card",
        )
        parser.add_argument("--out", required=True, metavar="FILE", help="weights file, must end in .weights.h5")

    def handle(self, *args, data, member, out, **options):
        data, out, folders = Path(data), Path(out), [Path(folder) for folder in member]
        cards = self._check(data, out, folders)

        from scans.ml.architectures import ARCHITECTURES
        from scans.ml.ensemble import ensemble, fill
        from scans.ml.heatmap_checks import write_card_with_heatmap_checks
        from scans.ml.training import Recipe, load_data, machine, measure

        first = Recipe(**cards[0]["recipe"])
        training = load_data(data, first, self.stdout.write)
        files = [str(training.samples[i].path.relative_to(data)) for i in training.val_idx]
        if files != cards[0]["validation_files"]:
            raise CommandError(f"{data} does not give the members' validation split: pass the data they trained on.")

        members = []
        for folder, card in zip(folders, cards):
            network = ARCHITECTURES[MODEL](card["input_size"], **registry.options_from(card["recipe"]))
            network.load_weights(str(registry.weights_path(MODEL, folder)))
            members.append(network)
        options = [registry.options_from(card["recipe"]) for card in cards]
        # The gate learns equalised exports as normal if any member was trained on them.
        equalised = max(card["recipe"].get("equalize_augmentation", 0.0) for card in cards)
        model = ensemble(cards[0]["input_size"], options)
        fill(model, members, [card["temperature"] for card in cards])
        out.parent.mkdir(parents=True, exist_ok=True)
        model.save_weights(str(out))
        self.stdout.write(f"{len(members)} members assembled; calibrating and measuring the ensemble…")

        card = {
            "model": MODEL,
            "init": "scratch",
            "recipe": {"model": MODEL, "members": options, "equalize_augmentation": equalised},
            "members": [self._member_summary(folder, card) for folder, card in zip(folders, cards)],
            "training": {
                "seconds": round(sum(card["training"]["seconds"] for card in cards), 1),
                "machine": machine(),
            },
            "augmentation": cards[0].get("augmentation"),
            **measure(model, training, out, MODEL, self.stdout.write, equalised_share=equalised),
            "command": "python manage.py build_ensemble " + shlex.join(sys.argv[2:]),
        }
        card_json, markdown = write_card_with_heatmap_checks(card, data, out, self.stdout.write)
        validation = card["validation"]
        self.stdout.write(
            f"ensemble validation accuracy {validation['accuracy']:.4f} (members: "
            + ", ".join(f"{m['validation_accuracy']:.4f}" for m in card["members"])
            + f"); card: {card_json} and {markdown}"
        )

    def _check(self, data: Path, out: Path, folders: list[Path]) -> list[dict]:
        """Every argument checked, and the members' cards read, before any work."""
        if not data.is_dir():
            raise CommandError(f"--data {data} is not a folder.")
        if out.name != f"{MODEL}.weights.h5":
            raise CommandError(f"--out must be a file named {MODEL}.weights.h5 (got {out.name}).")
        if len(folders) < 2:
            raise CommandError("An ensemble needs at least two --member folders.")
        if len(set(map(Path.resolve, folders))) < len(folders):
            raise CommandError("The same --member folder is given twice.")
        if out.parent.resolve() in {folder.resolve() for folder in folders}:
            raise CommandError("--out must be outside the member folders: it would overwrite a member's card.")
        cards = []
        for folder in folders:
            try:
                registry.verify_weights_file(MODEL, folder)
                card = registry.read_card(MODEL, folder)
            except WeightsError as exc:
                raise CommandError(f"--member {folder}: {exc}") from None
            if card.get("members"):
                raise CommandError(f"--member {folder} is an ensemble already; give its members instead.")
            cards.append(card)
        if len({card["input_size"] for card in cards}) > 1:
            raise CommandError("The members have different input sizes.")
        if any(card.get("validation_files") != cards[0].get("validation_files") for card in cards):
            raise CommandError("The members were validated on different splits: train them with one --split-seed.")
        return cards

    @staticmethod
    def _member_summary(folder: Path, card: dict) -> dict:
        return {
            "folder": str(folder),
            "sha256": card["sha256"],
            "command": card.get("command", ""),
            "recipe": card["recipe"],
            "temperature": card["temperature"],
            "epochs_run": card["training"]["epochs_run"],
            "best_epoch": card["training"]["best_epoch"],
            "seconds": card["training"]["seconds"],
            "validation_accuracy": card["validation"]["accuracy"],
            "recall": {name: row["recall"] for name, row in card["validation"]["per_class"].items()},
            "localisation": {
                kind: figures["pointing_game"] for kind, figures in (card.get("localisation") or {}).items()
            },
        }
