"""python manage.py classify [--model NAME] [--json] FILE… — one JSON line per file.

Each line: file, model, label, confidence, probabilities, ms, outcome (classified, uncertain
or refused), reason (empty when classified) and ood_score; a file that cannot be read gives
{"file", "error"}, and the exit status is 1 when any did."""

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from scans.dicom.engine_input import engine_input
from scans.ml import registry
from scans.ml.errors import ImageError, WeightsError
from scans.models import Outcome

# A file larger than any scan we accept is refused before it is read into memory.
MAX_FILE_BYTES = 50 * 1024 * 1024


class Command(BaseCommand):
    help = "Classify scans with a trained model; prints one JSON line per file."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--model", default=registry.DEFAULT_MODEL, choices=registry.MODEL_NAMES)
        parser.add_argument("--json", action="store_true", help="JSON lines (the default and only format)")

    def handle(self, *args, files, model, **options):
        from scans.ml.inference import get_engine

        try:
            engine = get_engine(model)
        except WeightsError as exc:
            raise CommandError(str(exc)) from None
        failures = 0
        for name in files:
            line = self._classify(engine, name)
            failures += "error" in line
            self.stdout.write(json.dumps(line))
        if failures:
            raise SystemExit(1)

    def _classify(self, engine, name: str) -> dict:
        path = Path(name)
        try:
            if path.is_dir():
                return {"file": name, "error": "is a directory, not an image file"}
            if path.stat().st_size > MAX_FILE_BYTES:
                return {"file": name, "error": f"file is larger than {MAX_FILE_BYTES // 2**20} MB"}
            started = time.perf_counter()
            data, modality_refusal = engine_input(path.read_bytes())
            result = engine.predict(data)
            if modality_refusal:
                result.outcome, result.reason = Outcome.REFUSED, modality_refusal
            ms = round((time.perf_counter() - started) * 1000, 2)
        except FileNotFoundError:
            return {"file": name, "error": "no such file"}
        except OSError as exc:
            return {"file": name, "error": f"cannot read the file ({exc.strerror})"}
        except ImageError as exc:
            return {"file": name, "error": str(exc)}
        return {
            "file": name,
            "model": engine.name,
            "label": result.label,
            "confidence": round(result.confidence, 6),
            "probabilities": {k: round(v, 6) for k, v in result.probabilities.items()},
            "ms": ms,
            # A refusal or an abstention is a result, not an error: label and probabilities
            # stay (the raw answer), `outcome` says whether they may be read as one.
            "outcome": result.outcome,
            "reason": result.reason,
            "ood_score": result.ood_score,
        }
