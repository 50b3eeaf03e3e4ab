"""The one-shot Xception training run on a lent GPU machine: payload, script, reassembly (gpu/README.md)."""
