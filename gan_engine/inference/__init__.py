"""Inference: the model wrappers (load once, apply by tiles), tiling, and the classical baseline."""
