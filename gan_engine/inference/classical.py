"""The classical restoration baseline: what a careful user would do with OpenCV.

1. Defect removal: pixels deviating strongly from a median-filtered luminance are specks; thin
   bright or dark lines are found by averaging that deviation along short lines in eight
   directions (a scratch adds up along its direction, noise does not). A detection must also
   stand out from its neighbourhood (several times the local mean deviation, beyond the local
   brightest/darkest of the median image), lie where detections are sparse (dense ones are the
   image's own texture: foliage, facades), and, for lines, belong to a long connected path.
   The mask is inpainted with Telea's method (``cv2.inpaint``).
2. Denoising: non-local means (``cv2.fastNlMeansDenoisingColored``, or ``fastNlMeansDenoising``
   for a grey print) with its strength ``h`` set from the noise level, estimated per channel from
   the median absolute value of Immerkaer's Laplacian-like high-pass.
3. Automatic levels: each channel's 0.5% and 99.5% percentiles moved half-way towards the levels
   of a typical clean photograph (``levels_black``, ``levels_white``; never the other way), which
   also reduces colour casts (the "auto colour" button); optional partial gray-world balance.

All parameters are fixed in ``ClassicalParams``. They were chosen on the *training* images
(Urban100, Sun-Hays 80, BSD400, aged with ``degrade_for_eval``), never on the evaluation sets;
on that distribution a sensitive defect detector costs PSNR (thin image detail gets inpainted),
so the detector is deliberately conservative: it removes isolated high-contrast specks and long
scratches. The function is pure: (H, W, 3) float32 [0, 1] in, same shape out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from gan_engine.data.luma import LUMA

__all__ = ["ClassicalParams", "classical_restore", "estimate_noise_sigma", "defect_mask"]


@dataclass(frozen=True)
class ClassicalParams:
    """Fixed settings of the classical pipeline (values chosen on the training images)."""

    # --- defects (specks, scratches) ---
    median_size: int = 5  # median filter giving the defect-free reference (removes lines <= 2 px)
    speck_median_size: int = 5  # median filter of the speck reference (larger finds larger specks)
    speck_threshold: float = 0.15  # |luminance - median| above which a pixel is a speck ...
    speck_sigmas: float = 6.0  # ... or this many noise sigmas, whichever is larger
    line_length: int = 11  # length (px) of the line averaging used to find scratches
    line_threshold: float = 0.15  # mean deviation along a line above which it is a scratch ...
    line_sigmas: float = 3.0  # ... or this many noise sigmas of the line average
    activity_window: int = 15  # window (px) of the local mean |deviation| ("texture activity")
    speck_contrast: float = 14.0  # a speck deviates this many times more than its neighbourhood
    line_contrast: float = 4.0  # a scratch's line average exceeds the activity by this factor
    line_orthogonal: float = 2.0  # ... and the average across it by this factor
    min_line_length: int = 80  # scratches are long: shorter line detections are image detail
    extreme_window: int = 15  # window (px) of the surroundings a defect must stand out from
    extreme_margin: float = 0.03  # by at least this much beyond their brightest / darkest
    density_window: int = 31  # window (px) of the local density of detections
    max_density: float = 0.03  # speck detections denser than this are texture, not defects
    max_line_density: float = 0.05  # line detections denser than this are a line pattern
    max_defect_fraction: float = 0.03  # above this, keep only the strongest deviations
    inpaint_radius: float = 3.0  # Telea inpainting neighbourhood (px)
    # --- denoising ---
    min_sigma_255: float = 2.0  # below this estimated noise level (8-bit units) skip denoising
    h_per_sigma: float = 0.6  # non-local means strength h = h_per_sigma * sigma (8-bit units)
    h_colour_per_sigma: float = 0.6  # strength of the chroma smoothing (colour images)
    template_window: int = 7  # NLM patch size
    search_window: int = 21  # NLM search window
    # --- levels and colour ---
    low_percentile: float = 0.5  # per-channel black point
    high_percentile: float = 99.5  # per-channel white point
    levels_median: int = 0  # median filter (px) before measuring the percentiles (0 = none)
    levels_black: float = 0.08  # black points above this are pulled down to it (never raised)
    levels_white: float = 0.92  # white points below this are pushed up to it (never lowered)
    levels_strength: float = 0.5  # fraction of the way to those targets (1 = all the way)
    channel_independence: float = 1.0  # 1 = per-channel levels ("auto colour"), 0 = joint
    min_range: float = 0.1  # never stretch a channel whose percentile range is below this
    gray_world: float = 0.0  # 0 = off, 1 = full gray-world white balance after the stretch
    grey_tolerance: float = 2.0 / 255.0  # channels this close everywhere = a grey image


def _to_u8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _luminance(x: np.ndarray) -> np.ndarray:
    return (x @ LUMA).astype(np.float32)


def estimate_noise_sigma(gray: np.ndarray) -> float:
    """Noise standard deviation of a grey image (H, W) float in [0, 1].

    The image is filtered with Immerkaer's kernel [[1, -2, 1], [-2, 4, -2], [1, -2, 1]] (which
    cancels locally linear structure; its response to white noise of std s has std 6 s), and s is
    the median absolute response / 0.6745 / 6, robust to the edges that remain.
    """
    k = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    r = cv2.filter2D(np.asarray(gray, dtype=np.float32), -1, k)[1:-1, 1:-1]
    return float(np.median(np.abs(r)) / 0.6745 / 6.0)


def _line_kernels(length: int) -> list[np.ndarray]:
    kernels = []
    c = length // 2
    for i in range(8):
        a = math.pi * i / 8
        k = np.zeros((length, length), np.float32)
        dx, dy = c * math.cos(a), c * math.sin(a)
        cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
        kernels.append(k / k.sum())
    return kernels


def defect_mask(lum: np.ndarray, sigma: float, params: ClassicalParams = ClassicalParams()) -> np.ndarray:
    """Mask (H, W) uint8 (255 = defect) of specks and thin scratches in a luminance image
    (H, W) float32 [0, 1] with noise level ``sigma``.

    A pixel is a defect when its deviation from the median-filtered image is large in absolute
    terms, large compared with the noise, and an outlier compared with the mean deviation of its
    neighbourhood (so that fine texture, where every pixel deviates, is left alone). Scratches
    are found on the deviation averaged along short lines in eight directions; a line must stand
    out against the orthogonal direction too.
    """
    p = params
    lum8 = _to_u8(lum)
    med = cv2.medianBlur(lum8, p.median_size).astype(np.float32) / 255.0
    dev = lum - med
    absdev = np.abs(dev)
    w = p.activity_window
    activity = cv2.blur(absdev, (w, w), borderType=cv2.BORDER_REFLECT)
    # Specks: against a larger median, so that specks up to ~speck_median_size/2 px across vanish
    # from the reference.
    smed = med if p.speck_median_size == p.median_size else (
        cv2.medianBlur(lum8, p.speck_median_size).astype(np.float32) / 255.0)
    sdev = lum - smed
    sact = activity if smed is med else cv2.blur(np.abs(sdev), (w, w), borderType=cv2.BORDER_REFLECT)
    speck_t = np.maximum(max(p.speck_threshold, p.speck_sigmas * sigma), p.speck_contrast * sact)
    specks = np.abs(sdev) > speck_t
    # Lines: the deviation averaged along a short line is large only along a scratch.
    responses = [cv2.filter2D(dev, -1, k, borderType=cv2.BORDER_REFLECT)
                 for k in _line_kernels(p.line_length)]
    stack = np.abs(np.stack(responses))  # (8, H, W)
    best_i = stack.argmax(axis=0)
    best = np.take_along_axis(stack, best_i[None], 0)[0]
    ortho = np.take_along_axis(stack, ((best_i + 4) % 8)[None], 0)[0]
    signed_best = np.take_along_axis(np.stack(responses), best_i[None], 0)[0]
    line_t = np.maximum(max(p.line_threshold, p.line_sigmas * sigma / math.sqrt(p.line_length)),
                        p.line_contrast * activity)
    lines = ((best > line_t) & (best > p.line_orthogonal * ortho)
             & (np.sign(signed_best) == np.sign(dev)) & (absdev > 0.5 * line_t))
    # A speck or scratch is brighter (darker) than anything in its defect-free surroundings; a bright
    # dot of a regular pattern (window corners, highlights on leaves) is not.
    ew = np.ones((p.extreme_window, p.extreme_window), np.uint8)
    beyond = ((dev > 0) & (lum > cv2.dilate(med, ew) + p.extreme_margin)) | (
        (dev < 0) & (lum < cv2.erode(med, ew) - p.extreme_margin))
    specks &= ((sdev > 0) & (lum > cv2.dilate(smed, ew) + p.extreme_margin)) | (
        (sdev < 0) & (lum < cv2.erode(smed, ew) - p.extreme_margin))
    lines &= beyond
    # Defects are sparse; where detections are dense, they are the image's own texture or
    # line pattern (fences, facades, fur) and are left alone. One scratch through a window
    # covers about 1/w of it, hence the separate limit for lines.
    w = p.density_window
    specks &= cv2.blur(specks.astype(np.float32), (w, w), borderType=cv2.BORDER_REFLECT) < p.max_density
    centre = lines & _ridge(absdev, best_i)  # one pixel across each line, whatever its width
    lines &= cv2.blur(centre.astype(np.float32), (w, w), borderType=cv2.BORDER_REFLECT) < p.max_line_density
    lines = _long_components(lines, p.min_line_length)
    mask = specks | lines
    limit = int(p.max_defect_fraction * mask.size)
    if mask.sum() > limit:  # keep only the strongest deviations
        score = np.where(mask, absdev, 0.0)
        cut = np.partition(score.ravel(), -limit)[-limit]
        mask &= score >= cut
    mask = mask.astype(np.uint8) * 255
    return cv2.dilate(mask, np.ones((3, 3), np.uint8))


def _ridge(strength: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Non-maximum suppression across lines: True where ``strength`` (H, W) is at least that of
    both neighbours perpendicular to the line direction (index i of the 8 line kernels, angle
    i * 22.5 degrees)."""
    out = np.zeros(strength.shape, bool)
    padded = np.pad(strength, 1, mode="edge")
    h, w = strength.shape
    for i in range(8):
        a = math.pi * i / 8 + math.pi / 2  # perpendicular to the line
        dx, dy = int(round(math.cos(a))), int(round(math.sin(a)))
        n1 = padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
        n2 = padded[1 - dy:1 - dy + h, 1 - dx:1 - dx + w]
        sel = direction == i
        out |= sel & (strength >= n1) & (strength >= n2)
    return out


def _long_components(mask: np.ndarray, min_length: int) -> np.ndarray:
    """Keep the connected parts of a boolean mask (H, W) that extend over at least ``min_length``
    px (bounding-box side); a one-pixel dilation first joins the pieces of a broken scratch."""
    if not mask.any():
        return mask
    joined = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    extent = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    keep = extent >= min_length
    keep[0] = False  # background
    return mask & keep[labels]


def _auto_levels(x: np.ndarray, p: ClassicalParams) -> np.ndarray:
    # Optionally measured on a median-filtered copy, so that specks that escaped the defect mask
    # cannot pin the black and white points (on the training images it did not pay off).
    ref = x
    if p.levels_median > 1:
        ref = cv2.medianBlur(_to_u8(x), p.levels_median).reshape(x.shape).astype(np.float32) / 255.0
    sample = ref[::2, ::2].reshape(-1, x.shape[2])
    lo = np.percentile(sample, p.low_percentile, axis=0)
    hi = np.percentile(sample, p.high_percentile, axis=0)
    # Between independent channels (removes casts, but also shifts genuine colour) and one
    # stretch for all channels (keeps colour, leaves casts).
    c = p.channel_independence
    lo = c * lo + (1.0 - c) * lo.min()
    hi = c * hi + (1.0 - c) * hi.max()
    span = np.maximum(hi - lo, p.min_range)
    # Clean photographs rarely span exactly [0, 1] (fog, low key, soft prints): stretch only as
    # far as plausible clean levels, so a well-exposed image is left as it is.
    black = lo - p.levels_strength * np.maximum(lo - p.levels_black, 0.0)
    white = (lo + span) + p.levels_strength * np.maximum(p.levels_white - (lo + span), 0.0)
    out = black + (x - lo) * ((white - black) / span)
    if p.gray_world > 0 and x.shape[2] == 3:
        means = out.reshape(-1, 3).mean(axis=0)
        gains = means.mean() / np.maximum(means, 1e-3)
        out = out * (1.0 + p.gray_world * (gains - 1.0))
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def classical_restore(image: np.ndarray, params: ClassicalParams = ClassicalParams()) -> np.ndarray:
    """Restore an aged photograph with classical OpenCV tools.

    image: (H, W, 3) float32 [0, 1] (also (H, W) or (H, W, 1)); returns the same shape, float32,
    in [0, 1]. A grey image (all channels within ``grey_tolerance``) is processed as one channel
    and returned grey.
    """
    x = np.asarray(image, dtype=np.float32)
    shape = x.shape
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3 or x.shape[2] not in (1, 3):
        raise ValueError(f"expected an image (H, W), (H, W, 1) or (H, W, 3), got {shape}")
    grey = x.shape[2] == 1 or float(np.abs(x - x.mean(axis=2, keepdims=True)).max()) <= params.grey_tolerance
    work = x[..., :1] if x.shape[2] == 1 else (x.mean(axis=2, keepdims=True) if grey else x)

    lum = work[..., 0] if grey else _luminance(work)
    # Per-channel noise (luminance would average independent channel noise down by 0.67).
    sigma = float(np.mean([estimate_noise_sigma(work[..., c]) for c in range(work.shape[2])]))

    # 1. specks and scratches
    u8 = _to_u8(work[..., 0] if grey else work)
    mask = defect_mask(lum, sigma, params)
    if mask.any():
        u8 = cv2.inpaint(u8, mask, params.inpaint_radius, cv2.INPAINT_TELEA)

    # 2. non-local means with a strength from the estimated noise level
    sigma_255 = sigma * 255.0
    if sigma_255 >= params.min_sigma_255:
        h = params.h_per_sigma * sigma_255
        if grey:
            u8 = cv2.fastNlMeansDenoising(u8, None, h, params.template_window, params.search_window)
        else:
            u8 = cv2.fastNlMeansDenoisingColored(u8, None, h, params.h_colour_per_sigma * sigma_255,
                                                 params.template_window, params.search_window)
    out = u8.astype(np.float32) / 255.0
    if out.ndim == 2:
        out = out[..., None]

    # 3. automatic levels (and optional gray world)
    out = _auto_levels(out, params)
    if grey and len(shape) == 3 and shape[2] == 3:
        out = np.repeat(out, 3, axis=2)
    return np.ascontiguousarray(out.reshape(shape), dtype=np.float32)
