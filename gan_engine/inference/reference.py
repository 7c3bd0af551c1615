"""Colour from a reference photograph: semantic correspondence, region to region.

The method of the seed (colour a black-and-white photograph from the colour information of a
reference), done by matching, not by global statistics: every region of the grey photograph
looks for the regions of the reference that *are* the same thing (same ImageNet features,
similar lightness) and takes their chroma.

1. Both images are brought to a working resolution; the reference is also seen mirrored and
   at three scales, so a reference with other framing, scale or a left-right flip still has a
   region that matches.
2. Descriptors at 1/8 of the working resolution: MobileNetV2 features at 1/8 (32 channels,
   local structure) and 1/16 (96 channels, what the thing is), each L2-normalised, plus the
   local lightness (mean and spread in the cell) so that a face does not take the colour of a
   same-category region with another tone. The reference's descriptors come from its own grey
   version, so both sides are compared on equal terms.
3. Each target cell takes the softmax-weighted mean of the ab of its ``k`` best reference
   cells (cosine similarity, temperature ``tau``); its confidence is the best similarity.
4. Where the confidence is low (no region of the reference resembles it), the automatic
   prediction takes over, with a smooth blend between ``fallback_below`` and ``trust_above``.
5. The chroma (1/8 resolution) is brought to full size by the guided filter of the automatic
   path, with the full-resolution lightness as the guide; L is the input's.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from gan_engine.archs.colorizer import SemanticColorizer, decode_ab
from gan_engine.inference.semantic_colorize import (
    compose_lab, guided_upsample, lightness_of, working_size)

__all__ = ["ReferenceConfig", "reference_ab", "blended_ab", "colorize_from_reference"]


@dataclass(frozen=True)
class ReferenceConfig:
    work_short: int = 320  # working resolution of both images (short side)
    scales: tuple[float, ...] = (0.7, 1.0, 1.4)  # the reference is searched at these scales
    mirror: bool = True  # and mirrored
    k: int = 8  # best matches averaged per cell
    tau: float = 0.03  # softmax temperature over cosine similarity
    luma_weight: float = 2.0  # weight of the lightness part of a descriptor
    fallback_below: float = 0.55  # confidence under which the automatic colour is used
    trust_above: float = 0.75  # confidence over which the reference's colour is used alone


def _encode(model: SemanticColorizer, L: np.ndarray) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """L (h, w) at working size -> (L as (1, 1, h, w) on the model's device, encoder features)."""
    p = next(model.parameters())
    x = torch.from_numpy(np.ascontiguousarray(L))[None, None].to(p.device, p.dtype)
    return x, model.encode(x)


def _descriptors(x: torch.Tensor, feats: dict[str, torch.Tensor], luma_weight: float) -> tuple[torch.Tensor, tuple[int, int]]:
    """Encoder features of one image -> (N, D) unit descriptors of its 1/8 cells, grid (h8, w8)."""
    x = x.float().cpu()
    f8 = F.normalize(feats["s8"].float().cpu(), dim=1)
    f16 = F.normalize(F.interpolate(feats["s16"].float().cpu(), size=f8.shape[-2:], mode="bilinear",
                                    align_corners=False), dim=1)
    mean = F.adaptive_avg_pool2d(x, f8.shape[-2:])
    spread = (F.adaptive_avg_pool2d(x * x, f8.shape[-2:]) - mean * mean).clamp_min(0).sqrt()
    luma = torch.cat([mean * 4.0, spread * 8.0], 1) * luma_weight / 2.0  # lightness in units like the features
    d = torch.cat([f8 * 0.5, f16, luma], 1)[0]  # (D, h8, w8)
    d = F.normalize(d, dim=0)
    h8, w8 = d.shape[-2:]
    return d.reshape(d.shape[0], -1).T.contiguous(), (h8, w8)


def _cell_ab(rgb: np.ndarray, grid: tuple[int, int]) -> torch.Tensor:
    """Mean ab of every 1/8 cell of a working-size sRGB image -> (N, 2)."""
    from gan_engine.data import color

    lab = color.rgb_to_lab(rgb)
    ab = cv2.resize(lab[..., 1:], (grid[1], grid[0]), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(ab.reshape(-1, 2).astype(np.float32))


def _match(model: SemanticColorizer, query: torch.Tensor, grid: tuple[int, int], reference_rgb: np.ndarray,
           cfg: ReferenceConfig) -> tuple[np.ndarray, np.ndarray]:
    """Target descriptors -> (ab (h8, w8, 2) from the reference's best matches, confidence (h8, w8))."""
    ref_L = lightness_of(reference_rgb)
    keys, values = [], []
    for s in cfg.scales:
        rh, rw = working_size(*ref_L.shape, max(32, int(round(cfg.work_short * s))))
        ref_small = cv2.resize(reference_rgb, (rw, rh), interpolation=cv2.INTER_AREA)
        L_ref = cv2.resize(ref_L, (rw, rh), interpolation=cv2.INTER_AREA)
        for flip in ((False, True) if cfg.mirror else (False,)):
            Lr, rgb = (L_ref[:, ::-1], ref_small[:, ::-1]) if flip else (L_ref, ref_small)
            d, rgrid = _descriptors(*_encode(model, Lr), cfg.luma_weight)
            keys.append(d)
            values.append(_cell_ab(np.ascontiguousarray(rgb), rgrid))
    keys_t, values_t = torch.cat(keys), torch.cat(values)  # (M, D), (M, 2)

    ab = torch.empty(len(query), 2)
    conf = torch.empty(len(query))
    for i in range(0, len(query), 1024):  # bounded memory: 1024 x M similarities at a time
        sim = query[i:i + 1024] @ keys_t.T
        top, idx = sim.topk(min(cfg.k, sim.shape[1]), dim=1)
        wts = torch.softmax(top / cfg.tau, dim=1)
        ab[i:i + 1024] = (wts[..., None] * values_t[idx]).sum(1)
        conf[i:i + 1024] = top[:, 0]
    return ab.reshape(*grid, 2).numpy(), conf.reshape(grid).numpy()


@torch.inference_mode()
def reference_ab(model: SemanticColorizer, L: np.ndarray, reference_rgb: np.ndarray,
                 cfg: ReferenceConfig = ReferenceConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Full-size L (H, W) and a reference sRGB (h, w, 3) -> (ab (h8, w8, 2), confidence (h8, w8)).

    The grid is 1/8 of the target's working size; ab comes from the reference where it matches.
    """
    h, w = working_size(*L.shape, cfg.work_short)
    L_small = cv2.resize(L, (w, h), interpolation=cv2.INTER_AREA)
    query, grid = _descriptors(*_encode(model, L_small), cfg.luma_weight)
    return _match(model, query, grid, reference_rgb, cfg)


@torch.inference_mode()
def blended_ab(model: SemanticColorizer, L: np.ndarray, reference_rgb: np.ndarray,
               cfg: ReferenceConfig = ReferenceConfig(), *, temperature: float = 1.0,
               gain: float = 1.0) -> np.ndarray:
    """Low-resolution ab (h8, w8, 2): the reference's colour where it matches, else automatic.

    One encoder pass over the target serves both the automatic prediction and the matching.
    """
    h, w = working_size(*L.shape, cfg.work_short)
    L_small = cv2.resize(L, (w, h), interpolation=cv2.INTER_AREA)
    x, feats = _encode(model, L_small)
    logits = model.decode(feats, x).float()
    ab_ref, conf = _match(model, *_descriptors(x, feats, cfg.luma_weight), reference_rgb, cfg)
    auto = decode_ab(logits, model.bins.float(), temperature)[0].permute(1, 2, 0).cpu().numpy() * gain
    auto = cv2.resize(auto, (ab_ref.shape[1], ab_ref.shape[0]), interpolation=cv2.INTER_AREA)
    trust = np.clip((conf - cfg.fallback_below) / (cfg.trust_above - cfg.fallback_below), 0.0, 1.0)
    return (trust[..., None] * ab_ref + (1.0 - trust[..., None]) * auto).astype(np.float32)


def colorize_from_reference(model: SemanticColorizer, L: np.ndarray, reference_rgb: np.ndarray, *,
                            cfg: ReferenceConfig = ReferenceConfig(), temperature: float = 1.0,
                            gain: float = 1.0) -> np.ndarray:
    """L / 100 (H, W) + reference sRGB -> RGB (H, W, 3) with L kept."""
    ab_small = blended_ab(model, L, reference_rgb, cfg, temperature=temperature, gain=gain)
    return compose_lab(L, guided_upsample(ab_small, L, radius=1))
