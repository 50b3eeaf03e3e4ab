"""The classification engine: preprocessing, architectures, training, inference, heat maps.

Nothing here imports Django. `classes`, `errors` and `registry` never import TensorFlow, so the
web process can use them; `inference` and `saliency` do, and only the worker and CLI load them.
The public interface is described in docs/ENGINE_CONTRACT.md.
"""

import os

# TensorFlow's C++ start-up chatter (CPU features, oneDNN notes) buries the commands' output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
