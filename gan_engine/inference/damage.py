"""Damage repair at inference: detect scratches, cracks, dust and tears, then inpaint only them.

``DamageRepairer`` loads the two shipped networks (``gan_engine/weights/damage_detector`` and
``damage_inpainter``) once and repairs arrays of any size in bounded memory:

1. detection by tiles (``tiling.run_tiled``; tiled equals one pass): damage probability
   (H, W) float32 in [0, 1]; the mask is ``probability > threshold``, grown by ``grow`` px so the
   anti-aliased fringe of a line is repainted too;
2. inpainting by tiles, *only the tiles whose core holds masked pixels* (elsewhere nothing
   changes), each window cut from the (image with the mask zeroed, mask) input with the
   inpainter's receptive radius of context, so the result equals one pass over the whole image;
3. composite: pixels outside the mask are the input's, bit for bit.

Images: float32 (H, W, 3) RGB in [0, 1] (a grey print as three equal channels).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from gan_engine import checkpoints
from gan_engine.data.damage import grow_mask
from gan_engine.devices import resolve_device
from gan_engine.inference import tiling

log = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_DETECTOR = WEIGHTS_DIR / "damage_detector.safetensors"
DEFAULT_INPAINTER = WEIGHTS_DIR / "damage_inpainter.safetensors"

__all__ = ["DamageRepairer", "DEFAULT_DETECTOR", "DEFAULT_INPAINTER", "detect", "inpaint"]


def _load(weights: Path, task: str, device: torch.device) -> tuple[torch.nn.Module, dict]:
    model, card = checkpoints.load_checkpoint(weights, device="cpu")
    if card.get("task") not in (None, task):
        raise checkpoints.CheckpointError(f"{weights} holds a {card.get('task')!r} model, not a {task!r} model")
    model = tiling.prepare_for_inference(model, device)
    model.requires_grad_(False)
    return model, card


@torch.inference_mode()
def detect(detector: torch.nn.Module, rgb: np.ndarray, *, tile: int = 512,
           progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Damage probability of an (H, W, 3) float32 [0, 1] image -> (H, W) float32 in [0, 1]."""
    logits = tiling.run_tiled(detector, np.ascontiguousarray(rgb, dtype=np.float32), tile=tile, progress=progress)
    return torch.sigmoid(torch.from_numpy(logits[..., 0])).numpy()


def _inpainter_window(rgb: np.ndarray, mask: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> torch.Tensor:
    """(1, 4, h, w) channels_last input of one window: image with the mask zeroed, then the mask."""
    m = mask[rows[:, None], cols[None, :]][..., None]  # (h, w, 1)
    x = rgb[rows[:, None], cols[None, :]] * (1.0 - m)  # (h, w, 3)
    t = torch.from_numpy(np.ascontiguousarray(np.concatenate([x, m], axis=2), dtype=np.float32))
    return t.permute(2, 0, 1)[None].contiguous(memory_format=torch.channels_last)


@torch.inference_mode()
def inpaint(inpainter: torch.nn.Module, rgb: np.ndarray, mask: np.ndarray, *, tile: int = 512,
            out: np.ndarray | None = None, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Fill the masked pixels of ``rgb`` (H, W, 3) float32 [0, 1]; ``mask`` (H, W) {0, 1}.

    Returns (H, W, 3) float32 [0, 1] equal to ``rgb`` where ``mask`` is 0 (``mask`` is read as
    ``mask > 0.5``; a soft mask is not blended). Runs the inpainter
    only on tiles whose core contains masked pixels, with ``receptive_radius`` of context (the
    same values as one pass over the whole image). ``out`` may be ``rgb`` itself (in place).
    """
    rgb = np.asarray(rgb, dtype=np.float32)
    mask = np.asarray(mask, dtype=np.float32)
    if mask.shape != rgb.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not match image {rgb.shape}")
    if out is None:
        out = rgb.copy()
    elif out is not rgb:
        out[...] = rgb
    multiple = int(inpainter.size_multiple)
    overlap = -(-int(inpainter.receptive_radius) // multiple) * multiple
    tile = -(-tile // multiple) * multiple
    h, w = mask.shape
    device = next(inpainter.parameters()).device
    boxes = [b for b in tiling.tile_windows(h, w, tile=tile, overlap=overlap, multiple=multiple)
             if mask[b[0][0]:b[0][1], b[0][2]:b[0][3]].any()]
    # Every window is cut from the unmodified input; when writing in place, the fills are kept
    # (masked pixels only: memory in proportion to the damage, not the image) until all are done.
    pending = []
    for done, ((y0, y1, x0, x1), (wy0, wy1, wx0, wx1)) in enumerate(boxes, start=1):
        rows, cols = tiling.reflect_indices(wy0, wy1, h), tiling.reflect_indices(wx0, wx1, w)
        pred = inpainter(_inpainter_window(rgb, mask, rows, cols).to(device))  # (1, 3, wh, ww)
        core = pred[0, :, y0 - wy0:y1 - wy0, x0 - wx0:x1 - wx0].clamp(0.0, 1.0).permute(1, 2, 0).float().cpu().numpy()
        ys, xs = np.nonzero(mask[y0:y1, x0:x1] > 0.5)
        if out is rgb:
            pending.append((ys + y0, xs + x0, core[ys, xs]))
        else:
            out[ys + y0, xs + x0] = core[ys, xs]
        if progress is not None:
            progress(done / len(boxes))
    if out is rgb:
        for ys, xs, values in pending:
            out[ys, xs] = values
    return out
    return out


class DamageRepairer:
    """The detector and the inpainter, loaded once.

    >>> rep = DamageRepairer()                      # shipped weights, CPU
    >>> repaired, mask = rep.repair(img)            # img float32 (H, W, 3) in [0, 1]
    """

    def __init__(self, detector: str | Path | None = None, inpainter: str | Path | None = None, *,
                 device: str = "cpu", tile: int = 512, threshold: float = 0.5, grow: int = 1):
        """threshold: probability above which a pixel is damaged; grow: mask dilation in px.
        Raises ``checkpoints.CheckpointError`` for missing or unreadable weights."""
        self.device = resolve_device(device)
        self.detector_path = Path(detector) if detector is not None else DEFAULT_DETECTOR
        self.inpainter_path = Path(inpainter) if inpainter is not None else DEFAULT_INPAINTER
        self.detector, self.detector_card = _load(self.detector_path, "damage-detect", self.device)
        self.inpainter, self.inpainter_card = _load(self.inpainter_path, "inpaint", self.device)
        self.tile, self.threshold, self.grow = tile, threshold, grow

    def mask(self, rgb: np.ndarray, *, tile: int | None = None) -> np.ndarray:
        """The repaint mask of an (H, W, 3) image: (H, W) float32 {0, 1} (thresholded, grown)."""
        prob = detect(self.detector, rgb, tile=tile or self.tile)
        return grow_mask((prob > self.threshold).astype(np.float32), self.grow)

    def repair(self, rgb: np.ndarray, *, mask: np.ndarray | None = None, tile: int | None = None,
               inplace: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """-> (repaired (H, W, 3) float32, mask (H, W) float32 {0, 1}); ``mask`` given: skip detection.
        With ``inplace`` the result overwrites ``rgb``."""
        rgb = np.asarray(rgb, dtype=np.float32)
        if mask is None:
            mask = self.mask(rgb, tile=tile)
        out = inpaint(self.inpainter, rgb, mask, tile=tile or self.tile, out=rgb if inplace else None)
        return out, mask
