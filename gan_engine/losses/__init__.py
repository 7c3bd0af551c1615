"""Losses: pixel, perceptual (content, style, total variation), adversarial, feature matching."""
