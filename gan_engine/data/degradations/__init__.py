"""Synthetic aging of photographs: pure, seeded degradation operations and the random pipeline.

- ``tone``: exposure, fading, colour casts, toning, desaturation, the grey print, vignetting;
- ``blur_noise``: blur, sharpening, film grain, sensor and Gaussian noise;
- ``defects``: stains, dust, scratches, cracks;
- ``reproduction``: JPEG, resampling, halftone screens, paper texture;
- ``pipeline``: ``AgingConfig``, the op table ``OPS``, ``age_image``, ``replay``, ``degrade_for_eval``;
- ``base``: the contract the operations share (private to this package).
"""
