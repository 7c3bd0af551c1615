"""Synthetic aging of photographs: pure, seeded degradation operations and the random pipeline."""
