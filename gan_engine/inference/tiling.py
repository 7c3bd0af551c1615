"""Tiled inference: any image size in bounded memory, identical to an untiled run.

Real-ESRGAN's idea (``tile`` + ``tile_pad``, paste back only the un-padded centre of each
tile), done as a pure function:

1. The image is conceptually reflect-padded at the bottom and right to a multiple of the
   model's ``size_multiple`` (``Hp x Wp``); that padded image is never built, each tile's
   window is gathered from the host array with reflected indices.
2. The image is cut into ``tile x tile`` cores (``tile`` rounded up to ``size_multiple``),
   whose origins are multiples of ``size_multiple``, so the U-Net's down/up-sampling grid has
   the same phase in every tile as in the whole image.
3. Each core is grown by ``overlap`` on every side (rounded up to ``size_multiple``, clipped to
   ``[0, Hp) x [0, Wp)``), run through the model on the device, and only the core's part of
   the output is copied into the output array (allocated once, on the host).

The model pads its convolutions with zeros at the window's edges; an output pixel depends on
``receptive_radius`` input pixels around it, so with ``overlap >= receptive_radius`` none of
that padding reaches a kept pixel, and at the image border the window ends where the whole
image would end. Hence tiled == untiled, up to float rounding (tested to 1e-4), without seams
or blending weights. The reference untiled run is :func:`run_untiled`.

Peak device memory is bounded by the window, ``(tile + 2 * overlap)^2`` pixels, whatever the
image size. Grey images: the caller converts them to three channels (``np.repeat(g, 3, -1)``)
and back; the models take ``in_ch`` channels and this function checks it.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import torch
from torch import nn

from gan_engine.errors import InvalidInputError

__all__ = ["run_tiled", "run_untiled", "tile_windows", "prepare_for_inference", "reflect_indices"]

log = logging.getLogger(__name__)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def reflect_indices(start: int, stop: int, size: int) -> np.ndarray:
    """Indices start..stop-1 into an axis of length ``size``, mirrored beyond its ends.

    Reflection without repeating the edge pixel (``np.pad(mode="reflect")``, torch's
    "reflect"), repeated as often as needed, so even a 3-pixel image pads to 8.
    """
    idx = np.arange(start, stop)
    if size == 1:
        return np.zeros_like(idx)
    period = 2 * (size - 1)
    idx = np.mod(idx, period)
    return np.where(idx >= size, period - idx, idx)


def tile_windows(height: int, width: int, *, tile: int, overlap: int, multiple: int):
    """Yield (core, window) boxes ``(y0, y1, x0, x1)`` in image coordinates.

    Cores partition the image; windows are cores grown by ``overlap`` and aligned to
    ``multiple`` within the padded size (multiples of ``multiple``). ``tile``/``overlap`` must
    already be multiples of ``multiple``.
    """
    hp, wp = _round_up(height, multiple), _round_up(width, multiple)
    for y0 in range(0, height, tile):
        y1 = min(y0 + tile, height)
        wy0, wy1 = max(y0 - overlap, 0), min(_round_up(y1, multiple) + overlap, hp)
        for x0 in range(0, width, tile):
            x1 = min(x0 + tile, width)
            wx0, wx1 = max(x0 - overlap, 0), min(_round_up(x1, multiple) + overlap, wp)
            yield (y0, y1, x0, x1), (wy0, wy1, wx0, wx1)


def prepare_for_inference(model: nn.Module, device: str | torch.device | None = None) -> nn.Module:
    """eval(), move to ``device`` and put 4-D weights in channels_last (in place; returns it).

    Weights in channels_last matter on CPU: oneDNN otherwise reorders every weight on every
    call (measured: about 2x slower for the U-Net). :func:`gan_engine.checkpoints.load_checkpoint`
    already returns models prepared this way.
    """
    model.eval()
    if device is not None:
        model.to(device)
    return model.to(memory_format=torch.channels_last)


def _model_device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _check_image(model: nn.Module, image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3:
        raise ValueError(f"image must be a numpy array (H, W, C), got {getattr(image, 'shape', type(image))}")
    in_ch = getattr(model, "config", {}).get("in_ch", image.shape[2])
    if image.shape[2] != in_ch:
        hint = " (convert grey to 3 channels first: np.repeat(img, 3, axis=2))" if image.shape[2] == 1 else ""
        raise InvalidInputError(f"image has {image.shape[2]} channels, the model takes {in_ch}{hint}")


@torch.inference_mode()
def run_tiled(model: nn.Module, image: np.ndarray, *, tile: int = 512, overlap: int | None = None,
              device: str | torch.device | None = None, half: bool = False,
              progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Run a generator over ``image`` tile by tile.

    Args:
        model: a generator with ``scale``, ``receptive_radius``, ``size_multiple`` (and, for
            speed, prepared by :func:`prepare_for_inference`); it is not modified.
        image: float32 (H, W, C) in [0, 1], C = the model's ``in_ch``.
        tile: core size in input pixels (rounded up to ``size_multiple``).
        overlap: context added around each core, in input pixels; defaults to the model's
            ``receptive_radius`` (exact result). Rounded up to ``size_multiple``.
        device: where to run; defaults to the model's device.
        half: float16 autocast on CUDA; ignored (with a log line) on CPU.
        progress: called with the finished fraction after every tile.

    Returns:
        float32 (H * scale, W * scale, out_ch) in [0, 1], on the host.
    """
    _check_image(model, image)
    if tile < 1:
        raise InvalidInputError(f"tile must be >= 1, got {tile}")
    device = _model_device(model) if device is None else torch.device(device)
    multiple = int(getattr(model, "size_multiple", 1))
    scale = int(getattr(model, "scale", 1))
    overlap = int(model.receptive_radius) if overlap is None else int(overlap)
    if overlap < 0:
        raise InvalidInputError(f"overlap must be >= 0, got {overlap}")
    overlap = _round_up(overlap, multiple)
    tile = _round_up(tile, multiple)
    use_half = bool(half) and device.type == "cuda"
    if half and not use_half:
        log.info("half=True ignored on %s: float16 is only used on CUDA", device.type)

    height, width, _ = image.shape
    boxes = list(tile_windows(height, width, tile=tile, overlap=overlap, multiple=multiple))
    out_ch = getattr(model, "config", {}).get("out_ch")
    output = None if out_ch is None else np.empty((height * scale, width * scale, out_ch), np.float32)
    for done, ((y0, y1, x0, x1), (wy0, wy1, wx0, wx1)) in enumerate(boxes, start=1):
        rows, cols = reflect_indices(wy0, wy1, height), reflect_indices(wx0, wx1, width)
        window = np.ascontiguousarray(image[rows[:, None], cols[None, :]], dtype=np.float32)  # (h, w, C)
        x = torch.from_numpy(window).to(device, non_blocking=False)
        x = x.permute(2, 0, 1).unsqueeze(0).contiguous(memory_format=torch.channels_last)  # (1, C, h, w)
        with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=use_half):
            y = model(x)  # (1, out_ch, h*s, w*s)
        core = y[0, :, (y0 - wy0) * scale:(y1 - wy0) * scale, (x0 - wx0) * scale:(x1 - wx0) * scale]
        core = core.permute(1, 2, 0).float().cpu().numpy()  # (core_h*s, core_w*s, out_ch)
        if output is None:
            output = np.empty((height * scale, width * scale, core.shape[2]), np.float32)
        output[y0 * scale:y1 * scale, x0 * scale:x1 * scale] = core
        if progress is not None:
            progress(done / len(boxes))
    return output


@torch.inference_mode()
def run_untiled(model: nn.Module, image: np.ndarray, *, device: str | torch.device | None = None) -> np.ndarray:
    """The reference: the whole image, reflect-padded bottom/right to ``size_multiple``, at once.

    Same result as :func:`run_tiled` with ``tile >= max(H, W)``; kept separate and written
    directly with ``torch.nn.functional.pad`` so the tests compare two independent codes.
    """
    _check_image(model, image)
    device = _model_device(model) if device is None else torch.device(device)
    multiple = int(getattr(model, "size_multiple", 1))
    scale = int(getattr(model, "scale", 1))
    height, width, _ = image.shape
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0).to(device)
    pad_h, pad_w = _round_up(height, multiple) - height, _round_up(width, multiple) - width
    if pad_h or pad_w:
        if pad_h < height and pad_w < width:
            x = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
        else:  # tiny image: reflect repeatedly, as run_tiled does
            rows = torch.from_numpy(reflect_indices(0, height + pad_h, height)).to(device)
            cols = torch.from_numpy(reflect_indices(0, width + pad_w, width)).to(device)
            x = x[:, :, rows][:, :, :, cols]
    y = model(x.contiguous(memory_format=torch.channels_last))
    return y[0, :, :height * scale, :width * scale].permute(1, 2, 0).float().cpu().numpy()

