#!/usr/bin/env bash
# The device command for the one-shot Xception run (gpu/README.md): run from the repository root
# on the GPU machine, with gpu/payload carried. Extra arguments go to gpu.train_xception.
set -euo pipefail
# The device's time limit counts from here; the script's deadline does too.
export GPU_RUN_STARTED_AT="$(date +%s.%N)"
# keras and the two dependencies the image lacks, from the carried wheels (the machine has no network).
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site gpu/payload/wheels/*.whl
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1 KERAS_BACKEND=jax
exec python3 -m gpu.train_xception --payload gpu/payload --out "$OUT" "$@"
