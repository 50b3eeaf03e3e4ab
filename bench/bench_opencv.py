"""OpenCV against what the engine uses now, on real scans: CLAHE, resize, Gaussian blur, colour map.

    pip install --target /tmp/cvpkg --no-deps opencv-python-headless
    PYTHONPATH=/tmp/cvpkg .venv/bin/python bench/bench_opencv.py [--images 40] [--repeat 20]

OpenCV is not a dependency of the portal (docs/architecture.md says why); this script is how
that decision was measured and how to measure it again. For each operation it prints the median
time per image of the current code and of OpenCV, and how far their results are apart.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scans.ml.overlays import PALETTES  # noqa: E402
from scans.ml.preprocess import crop_square, decode_scan  # noqa: E402
from scans.ml.regions import GAUSSIAN_SIGMA, GAUSSIAN_TRUNCATE  # noqa: E402

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "brain-tumor-mri" / "Training"
SIDE = 224


def _median_ms(run, items, repeat: int) -> float:
    times = []
    for item in items:
        started = time.perf_counter()
        for _ in range(repeat):
            run(item)
        times.append((time.perf_counter() - started) * 1000 / repeat)
    return statistics.median(times)


def _squares(count: int) -> list[np.ndarray]:
    paths = sorted(DATASET.glob("*/*.jpg"))[:: max(1, len(list(DATASET.glob("*/*.jpg"))) // count)][:count]
    return [crop_square(decode_scan(path.read_bytes()))[0] for path in paths]


def main() -> None:
    import cv2
    from scipy.ndimage import gaussian_filter
    from skimage.exposure import equalize_adapthist

    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    squares = _squares(args.images)
    small = [np.asarray(Image.fromarray(s).resize((SIDE, SIDE), Image.BILINEAR)) for s in squares]
    maps = [s.astype(np.float32) / 255.0 for s in small]
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    rows = [
        (
            "resize to 224 (PIL bilinear | cv2 INTER_LINEAR)",
            lambda s: np.asarray(Image.fromarray(s).resize((SIDE, SIDE), Image.BILINEAR)),
            lambda s: cv2.resize(s, (SIDE, SIDE), interpolation=cv2.INTER_LINEAR),
            squares,
            args.repeat,
        ),
        (
            "Gaussian 11x11 sigma 2 (scipy | cv2)",
            lambda m: gaussian_filter(m, GAUSSIAN_SIGMA, truncate=GAUSSIAN_TRUNCATE),
            lambda m: cv2.GaussianBlur(m, (11, 11), GAUSSIAN_SIGMA, borderType=cv2.BORDER_REFLECT),
            maps,
            args.repeat,
        ),
        (
            "colour map 'hot' (numpy LUT | cv2.applyColorMap)",
            lambda m: PALETTES["hot"][(m * 255).astype(np.uint8)],
            lambda m: cv2.applyColorMap((m * 255).astype(np.uint8), cv2.COLORMAP_HOT),
            maps,
            args.repeat,
        ),
        (
            "CLAHE at 224 (skimage | cv2; different algorithms)",
            lambda s: (equalize_adapthist(s, clip_limit=0.02) * 255).astype(np.uint8),
            lambda s: clahe.apply(s),
            small,
            max(1, args.repeat // 4),
        ),
    ]
    print(f"opencv {cv2.__version__}, {len(squares)} real scans, median ms per image")
    for name, ours, theirs, items, repeat in rows:
        ours_ms, theirs_ms = _median_ms(ours, items, repeat), _median_ms(theirs, items, repeat)
        apart = max(
            float(np.abs(np.asarray(ours(i), np.float32) - np.asarray(theirs(i), np.float32)).max()) for i in items[:5]
        )
        print(f"{name:52s} current {ours_ms:8.3f}   opencv {theirs_ms:8.3f}   max difference {apart:.3g}")


if __name__ == "__main__":
    main()
