"""Evaluation: the measuring protocols against data sets and the image quality metrics."""
