"""Engine latency on this machine, warm: classify, classify + heat maps, and the origin's way.

    .venv/bin/python bench/bench_engine.py [--images 60] [--model custom_cnn]

Prints medians and p95 in milliseconds over real scans from the shared dataset. "Origin" is
what the Streamlit demo did per scan: Xception at 299 px called with model.predict(), then
guided backprop through a gradient tape (its weights are random here: timing only).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "brain-tumor-mri" / "Training"


def summary(name: str, seconds: list[float]) -> None:
    ms = sorted(1000 * s for s in seconds)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    print(f"{name:<44} median {statistics.median(ms):8.1f} ms   p95 {p95:8.1f} ms   n={len(ms)}")


def scans(count: int) -> list[bytes]:
    files = sorted(DATASET.glob("*/*.jpg"))
    return [path.read_bytes() for path in files[:: max(1, len(files) // count)][:count]]


def bench_engine(model: str, data: list[bytes]) -> None:
    from scans.ml.inference import get_engine

    engine = get_engine(model)
    engine.warm_up()
    classify, full, steps = [], [], {}
    for scan in data:
        started = time.perf_counter()
        result = engine.predict(scan)
        classify.append(time.perf_counter() - started)
        maps = engine.explain_maps(scan, result)
        full.append(time.perf_counter() - started)
        for step, ms in {**result.timings, **maps.timings}.items():
            steps.setdefault(step, []).append(ms / 1000)
    summary(f"{model}: classify (decode → probabilities)", classify)
    summary(f"{model}: classify + Grad-CAM + saliency + PNGs", full)
    for step, seconds in steps.items():  # where the time goes
        summary(f"  step: {step}", seconds)


def bench_origin(data: list[bytes]) -> None:
    import tensorflow as tf

    from scans.ml.architectures import xception
    from scans.ml.preprocess import decode_scan, model_input
    from scans.ml.saliency import guided_clone

    model = xception(299)
    guided = guided_clone(model)
    predict_only, total = [], []
    for scan in data:
        started = time.perf_counter()
        batch = model_input(decode_scan(scan), 299)[None]
        probs = model.predict(batch, verbose=0)
        predict_only.append(time.perf_counter() - started)
        image = tf.constant(batch)
        with tf.GradientTape() as tape:
            tape.watch(image)
            score = guided(image)[0, int(np.argmax(probs))]
        tape.gradient(score, image)
        total.append(time.perf_counter() - started)
    summary("origin: Xception 299 model.predict()", predict_only[1:])
    summary("origin: + guided backprop", total[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--model", default="custom_cnn")
    parser.add_argument("--skip-origin", action="store_true")
    args = parser.parse_args()
    data = scans(args.images)
    bench_engine(args.model, data)
    if not args.skip_origin:
        bench_origin(data[: max(10, args.images // 3)])


if __name__ == "__main__":
    main()
