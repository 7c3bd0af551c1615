"""Data: image files, colour spaces, resampling, synthetic aging, and the training pairs."""
