"""The model wrappers: ``Restorer``, ``Upscaler`` and ``Colorizer`` load a checkpoint once (through
:class:`~gan_engine.inference.base.ModelWrapper`: card and task check, device, half precision,
tile) and process arrays or files by tiles (``tiling.run_tiled``), so any image size fits in memory.

Colour conventions:
- grey input (a grey file, or an RGB image whose three channels are equal) is replicated to
  three channels for the model and its luminance is returned (a restorer must not invent colour);
- alpha is passed through untouched;
- ``restore_file`` keeps 16-bit in -> 16-bit out and grey in -> grey out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from gan_engine import checkpoints
from gan_engine.archs import generators
from gan_engine.data import imageio
from gan_engine.data.luma import LUMA
from gan_engine.errors import InvalidInputError
from gan_engine.inference import tiling
from gan_engine.inference.base import (
    ModelWrapper, check_strength, is_gray as _is_gray, luminance_as as _luminance_as, save_like,
    split_image as _split_image,
)

#: The shipped weights and their model cards: gan_engine/weights/.
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "restore.safetensors"


class Restorer(ModelWrapper):
    """A restoration generator loaded once, ready to restore many images.

    >>> r = Restorer()                                  # default shipped weights, best device
    >>> out = r.restore(img)                            # img float32 (H, W, 3) in [0, 1]
    >>> r.restore_file("scan.tif", "scan_restored.png")
    >>> r = Restorer(repair_damage=True)                # detect -> inpaint damage first
    >>> out, mask = r.restore_with_mask(img)            # mask: the pixels that were repainted
    """

    task = "restore"

    def __init__(self, weights: str | Path | None = None, *, device: str = "auto", half: bool = False,
                 tile: int = 512, repair_damage: bool = False, detector: str | Path | None = None,
                 inpainter: str | Path | None = None):
        """Load ``weights`` (default: the shipped ``gan_engine/weights/restore.safetensors``).

        device: "auto" | "cpu" | "cuda" | "cuda:N" (ValueError when unknown or unavailable);
        half: float16 on CUDA (ignored on CPU); tile: default tile side in pixels.
        repair_damage: put the damage stage (:class:`~gan_engine.inference.damage.DamageRepairer`:
        scratches, cracks, dust and tears detected, then inpainted) in front of the model;
        ``detector`` / ``inpainter``: its weights (default: the shipped ``damage_detector`` and
        ``damage_inpainter``).
        Raises ``checkpoints.CheckpointError`` for a missing or unreadable checkpoint, or one whose
        card names another task than "restore".
        """
        super().__init__(weights, DEFAULT_WEIGHTS, device=device, half=half, tile=tile)
        self.damage = None
        if repair_damage:
            from gan_engine.inference.damage import DamageRepairer

            self.damage = DamageRepairer(detector, inpainter, device=str(self.device), tile=tile)

    def restore(self, image: np.ndarray, *, tile: int | None = None,
                progress: Callable[[float], None] | None = None, inplace: bool = False) -> np.ndarray:
        """Restore one image.

        image: float32 (H, W, 3) RGB, (H, W, 4) RGBA or (H, W) grey, in [0, 1].
        Returns the same shape and dtype float32 in [0, 1]: grey input gives grey (luminance)
        output; an alpha channel is passed through. The image is processed in horizontal
        strips of tile rows; with ``inplace`` (an (H, W, 3) float32 colour input) the result
        overwrites the input, so a 64 MP image needs no second full-size buffer.
        """
        return self.restore_with_mask(image, tile=tile, progress=progress, inplace=inplace)[0]

    def restore_with_mask(self, image: np.ndarray, *, tile: int | None = None,
                          progress: Callable[[float], None] | None = None,
                          inplace: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """As :meth:`restore`, -> (restored, mask): ``mask`` (H, W) float32 {0, 1} marks the pixels
        the damage stage repainted (detect -> inpaint, before the global and local stages), so an
        archive can keep it beside the result; None when this restorer has no damage stage."""
        image = np.asarray(image, dtype=np.float32)
        rgb, alpha, layout = _split_image(image)
        gray_in = layout != "rgb" or _is_gray(rgb)
        tile = tile or self.tile
        if inplace and image.ndim == 3 and image.shape[2] == 3 and image.flags.writeable \
                and image.flags.c_contiguous:
            out = image
        else:
            out = np.empty(rgb.shape, np.float32)
        src = np.ascontiguousarray(rgb) if out is not image else image
        mask = None
        if self.damage is not None:  # repaint the damage first: the later stages see a mended print
            src, mask = self.damage.repair(src, tile=tile, inplace=src is image)
        glob, local = _stages(self.model)
        if glob is not None:  # the global tone/colour stage: parameters from the whole image
            self._correct_globally(glob, src, out)
            src = out
        if local is not None:
            self._restore_strips(local, src, out, tile, progress)
        elif progress is not None:
            progress(1.0)
        if gray_in:
            out = _luminance_as(out, layout)
            if layout != "rgb":
                return out, mask
        if alpha is not None:
            out = np.concatenate([out, alpha[..., None]], axis=2)
        return out.astype(np.float32, copy=False), mask

    @torch.inference_mode()
    def _correct_globally(self, glob: generators.ToneColour, rgb: np.ndarray, out: np.ndarray,
                          rows: int = 64) -> None:
        """Apply the global stage to ``rgb`` (H, W, 3) into ``out`` (may be ``rgb``).

        Its parameters come from one thumbnail of the whole image (computed band by band, so a
        64 MP image needs no full-size tensor); the pointwise correction is then applied in
        blocks of ``rows`` rows (small: the gather/curve temporaries are ~10x a block, and heap
        memory freed here is not always returned before the U-Net's tiles need theirs).
        """
        dtype = next(glob.parameters()).dtype
        thumb = torch.from_numpy(image_thumbnail(rgb, glob.thumb)).permute(2, 0, 1)[None]
        params = glob.predict(thumb.to(self.device, dtype))
        for y in range(0, rgb.shape[0], rows):
            block = torch.from_numpy(np.ascontiguousarray(rgb[y:y + rows])).permute(2, 0, 1)[None]
            res = glob.apply(block.to(self.device, dtype), params).clamp_(0.0, 1.0)
            out[y:y + rows] = res[0].permute(1, 2, 0).float().cpu().numpy()

    def _restore_strips(self, model: torch.nn.Module, rgb: np.ndarray, out: np.ndarray, tile: int,
                        progress: Callable[[float], None] | None) -> None:
        """Restore ``rgb`` (H, W, 3) into ``out`` (may be ``rgb`` itself) strip by strip.

        Each strip of ``tile - 2 * overlap`` rows is restored (by tiles) with ``overlap`` rows of
        context above and below, so that one strip is one row of tiles. Input rows above the strip have been overwritten when ``out is rgb``,
        so the context rows are copied before the strip above is written back.
        """
        h = rgb.shape[0]
        # Strips and context are whole multiples of the model's size_multiple, so every strip
        # sees the same downsampling grid as one pass over the whole image would (exact result).
        m = int(getattr(model, "size_multiple", 1))
        overlap = -(-int(getattr(model, "receptive_radius", 32)) // m) * m
        strip = max(tile - 2 * overlap, overlap, m)
        strip = -(-strip // m) * m
        above = None  # original input rows just above the current strip
        for a in range(0, h, strip):
            b = min(h, a + strip)
            lo, hi = max(0, a - overlap), min(h, b + overlap)
            chunk = rgb[a:hi] if above is None else np.concatenate([above, rgb[a:hi]], axis=0)
            chunk = np.ascontiguousarray(chunk)
            above = rgb[max(a, b - overlap):b].copy()
            sub = None
            if progress is not None:
                def sub(f, a=a, b=b):  # overall fraction from the strip's fraction
                    progress((a + f * (b - a)) / h)
            res = tiling.run_tiled(model, chunk, tile=tile, device=self.device, half=self.half,
                                   progress=sub)
            np.clip(res[a - lo:a - lo + (b - a)], 0.0, 1.0, out=out[a:b])
        if progress is not None:
            progress(1.0)

    def restore_file(self, path_in: str | Path, path_out: str | Path, *, tile: int | None = None,
                     progress: Callable[[float], None] | None = None, strength: float = 1.0,
                     mask_out: str | Path | None = None) -> Path:
        """Restore an image file into a PNG: 16-bit stays 16-bit, grey stays grey, alpha and ICC kept.

        ``strength`` in [0, 1] blends the restoration with the input (1: the model's output).
        ``mask_out``: also write the damage mask there (8-bit grey PNG, 255 = repainted); needs a
        restorer with a damage stage (ValueError otherwise).
        Raises ``imageio.ImageReadError`` for a missing or unreadable input.
        """
        check_strength(strength)
        if mask_out is not None and self.damage is None:
            raise InvalidInputError("a damage mask needs a restorer with a damage stage (repair_damage=True)")
        loaded = imageio.load_image(path_in)
        rgb = loaded.rgb
        if loaded.is_gray:
            rgb = np.repeat((rgb @ LUMA)[..., None], 3, axis=2) if rgb.ndim == 3 else rgb
        # In place saves a full-size buffer, unless the input is still needed for the blend.
        out, mask = self.restore_with_mask(rgb, tile=tile, progress=progress,
                                           inplace=rgb is loaded.rgb and strength == 1.0)
        if mask_out is not None:
            imageio.save_image(mask_out, mask, bit_depth=8, gray=True)
        if strength < 1.0:
            out = np.clip(rgb + strength * (out - rgb), 0.0, 1.0).astype(np.float32)
        return save_like(path_out, out[..., :3], loaded)

    @torch.inference_mode()
    def __call__(self, image: np.ndarray, **kwargs) -> np.ndarray:
        return self.restore(image, **kwargs)


# ------------------------------------------------------------------------------------------
# Upscaling and colourisation: the same loading, tiling and file conventions as Restorer.
# ------------------------------------------------------------------------------------------

UPSCALE_VARIANTS = ("faithful", "gan")


def default_weights(task: str, *, scale: int = 4, variant: str = "faithful") -> Path:
    """The shipped weights of a task: restore.safetensors, colorize.safetensors,
    upscale_x{2,4}_{faithful,gan}.safetensors (ValueError for an unknown task/scale/variant)."""
    if task == "restore":
        return DEFAULT_WEIGHTS
    if task == "colorize":
        return WEIGHTS_DIR / "colorize.safetensors"
    if task == "upscale":
        if scale not in (2, 4):
            raise InvalidInputError(f"scale must be 2 or 4, not {scale}")
        if variant not in UPSCALE_VARIANTS:
            raise InvalidInputError(f"variant must be one of {', '.join(UPSCALE_VARIANTS)}, not {variant!r}")
        return WEIGHTS_DIR / f"upscale_x{scale}_{variant}.safetensors"
    raise InvalidInputError(f"no shipped weights for task {task!r}")


def _stages(model: torch.nn.Module) -> tuple[generators.ToneColour | None, torch.nn.Module | None]:
    """(global stage or None, tiled local stage or None) of a restoration generator."""
    if isinstance(model, generators.GlobalUNet):
        return model.glob, model.local
    if isinstance(model, generators.ToneColour):
        return model, None
    return None, model


def image_thumbnail(rgb: np.ndarray, size: int) -> np.ndarray:
    """(size, size, 3) float32 thumbnail of an (H, W, 3) image, aspect ignored.

    Equal to ``ToneColour.thumbnail`` on the whole image (adaptive average pooling, bilinear
    when the image is smaller), computed one band of rows at a time: each output row averages
    the rows ``floor(i H / size) .. ceil((i + 1) H / size)``, as adaptive pooling does.
    """
    h, w = rgb.shape[:2]
    if h < size or w < size:
        t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None]
        t = torch.nn.functional.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
        return t[0].permute(1, 2, 0).numpy()
    out = np.empty((size, size, 3), np.float32)
    for i in range(size):
        a, b = (i * h) // size, -(-((i + 1) * h) // size)
        band = torch.from_numpy(np.ascontiguousarray(rgb[a:b])).permute(2, 0, 1)[None]  # (1, 3, rows, W)
        out[i] = torch.nn.functional.adaptive_avg_pool2d(band, (1, size))[0, :, 0].T.numpy()
    return out


class Upscaler(ModelWrapper):
    """A super-resolution generator (x2 or x4) loaded once.

    Grey in gives grey out (the luminance of the model's output), alpha is upscaled by bicubic,
    16-bit files stay 16-bit. Works by tiles: device memory is bounded by the tile; the host
    holds the input and the (scale^2 larger) output.
    """

    task = "upscale"

    def __init__(self, weights: str | Path | None = None, *, scale: int = 4, variant: str = "faithful",
                 device: str = "auto", half: bool = False, tile: int = 256,
                 max_output_pixels: int = 400_000_000):
        super().__init__(weights, default_weights("upscale", scale=scale, variant=variant), device=device,
                         half=half, tile=tile)
        self.scale = int(getattr(self.model, "scale", 1))
        if weights is None and self.scale != scale:
            raise checkpoints.CheckpointError(f"{self.weights} upscales x{self.scale}, not x{scale}")
        self.max_output_pixels = max_output_pixels

    def check_size(self, height: int, width: int) -> None:
        """InvalidInputError (a ValueError) when the output would exceed ``max_output_pixels``."""
        out = height * width * self.scale ** 2
        if out > self.max_output_pixels:
            raise InvalidInputError(f"a {width}x{height} image upscaled x{self.scale} would have {out / 1e6:.0f} MP, "
                             f"more than the limit of {self.max_output_pixels / 1e6:.0f} MP")

    @torch.inference_mode()
    def upscale(self, image: np.ndarray, *, tile: int | None = None,
                progress: Callable[[float], None] | None = None) -> np.ndarray:
        """float32 image in [0, 1] ((H, W), (H, W, 1|3|4)) -> the same layout at scale x the size."""
        from gan_engine.data import resampling

        rgb, alpha, layout = _split_image(image)
        self.check_size(*rgb.shape[:2])
        gray_in = layout != "rgb" or _is_gray(rgb)
        out = self._run_tiled(np.ascontiguousarray(rgb), tile, progress)
        np.clip(out, 0.0, 1.0, out=out)
        if gray_in:
            out = _luminance_as(out, layout)
            if layout != "rgb":
                return out
        if alpha is not None:
            a = np.clip(resampling.bicubic_upscale(alpha, self.scale), 0.0, 1.0)
            out = np.concatenate([out, a[..., None]], axis=2)
        return out.astype(np.float32, copy=False)

    def upscale_file(self, path_in: str | Path, path_out: str | Path, *, tile: int | None = None,
                     progress: Callable[[float], None] | None = None) -> Path:
        """Upscale an image file into a PNG: bit depth, grey/colour, alpha and ICC profile kept."""
        loaded = imageio.load_image(path_in)
        self.check_size(*loaded.rgb.shape[:2])
        image = loaded.rgb if loaded.alpha is None else np.concatenate([loaded.rgb, loaded.alpha[..., None]], axis=2)
        out = self.upscale(image, tile=tile, progress=progress)
        return save_like(path_out, out[..., :3], loaded, alpha=out[..., 3] if out.shape[2] == 4 else None)

    def __call__(self, image: np.ndarray, **kwargs) -> np.ndarray:
        return self.upscale(image, **kwargs)


class Colorizer(ModelWrapper):
    """A colorizer loaded once: L in, ab predicted, RGB out with the input's CIE L kept.

    Two kinds of weights: the semantic colorizer (``semantic-colorizer``: ImageNet MobileNetV2
    encoder, ab-bin decoder; see :mod:`gan_engine.archs.colorizer`), which runs once at a
    working resolution and brings the chroma to full size with a guided filter, so ``tile``
    does not apply to it; and the earlier U-Net colorizer (``colorizer``), run by tiles.
    Any input is reduced to its CIE lightness first (a colour photograph is re-coloured from
    its own L); alpha is passed through. ``strength`` scales the predicted chroma (0: grey).
    ``reference`` (semantic colorizer only): an sRGB photograph whose colours are carried
    over region by region (:mod:`gan_engine.inference.reference`).
    """

    task = "colorize"

    def __init__(self, weights: str | Path | None = None, *, device: str = "auto", half: bool = False,
                 tile: int = 1024):
        from gan_engine.archs.colorizer import SemanticColorizer

        super().__init__(weights, default_weights("colorize"), device=device, half=half, tile=tile)
        self.semantic = isinstance(self.model, SemanticColorizer)

    @property
    def takes_reference(self) -> bool:
        """Whether these weights can colour from a reference photograph."""
        return self.semantic

    @torch.inference_mode()
    def colorize(self, image: np.ndarray, *, tile: int | None = None, strength: float = 1.0,
                 reference: np.ndarray | None = None,
                 progress: Callable[[float], None] | None = None) -> np.ndarray:
        """float32 image in [0, 1] ((H, W), (H, W, 1|3|4)) -> (H, W, 3) RGB (or RGBA with alpha)."""
        from gan_engine.data import color
        from gan_engine.inference import semantic_colorize as sc

        check_strength(strength)
        if reference is not None and not self.semantic:
            raise InvalidInputError(f"{self.weights.name} cannot colour from a reference (it is not a semantic colorizer)")
        rgb, alpha, _ = _split_image(image)
        if self.semantic:
            out = self._semantic(rgb, strength, reference, progress)
        else:
            L = sc.lightness_of(rgb)[..., None]
            out = self._run_tiled(L, tile, progress)
            if strength < 1.0:
                for y in range(0, out.shape[0], 512):
                    lab = color.rgb_to_lab(out[y:y + 512])
                    lab[..., 0] = L[y:y + 512, :, 0] * 100.0
                    lab[..., 1:] *= strength
                    out[y:y + 512] = color.lab_to_rgb(lab)
        np.clip(out, 0.0, 1.0, out=out)
        if alpha is not None:
            out = np.concatenate([out, alpha[..., None]], axis=2)
        return out.astype(np.float32, copy=False)

    def _semantic(self, rgb: np.ndarray, strength: float, reference: np.ndarray | None,
                  progress: Callable[[float], None] | None) -> np.ndarray:
        from gan_engine.inference import reference as ref
        from gan_engine.inference import semantic_colorize as sc

        cfg = self.model.config
        L = sc.lightness_of(rgb)
        if progress:
            progress(0.1)
        gain = cfg["gain"] * strength
        if reference is None:
            ab_small = sc.predict_ab(self.model, L, work_short=cfg["work_short"],
                                     temperature=cfg["temperature"]) * gain
        else:
            ref_rgb, _, _ = _split_image(reference)
            ab_small = ref.blended_ab(self.model, L, ref_rgb,
                                      ref.ReferenceConfig(work_short=cfg["work_short"]),
                                      temperature=cfg["temperature"], gain=cfg["gain"]) * strength
        if progress:
            progress(0.6)
        # The reference's chroma comes at 1/8 of the working size, the automatic one at 1/4:
        # the same guided-filter window in full-size pixels.
        out = sc.compose_lab(L, sc.guided_upsample(ab_small, L, radius=1 if reference is not None else 2))
        if progress:
            progress(1.0)
        return out

    def colorize_file(self, path_in: str | Path, path_out: str | Path, *, tile: int | None = None,
                      strength: float = 1.0, reference: str | Path | None = None,
                      progress: Callable[[float], None] | None = None) -> Path:
        """Colourise an image file into an RGB PNG (16-bit stays 16-bit; alpha and ICC kept).

        ``reference``: an image file whose colours are carried over (semantic colorizer only).
        """
        loaded = imageio.load_image(path_in)
        ref_rgb = imageio.load_image(reference).rgb if reference is not None else None
        out = self.colorize(loaded.rgb, tile=tile, strength=strength, reference=ref_rgb, progress=progress)
        return save_like(path_out, out, loaded, gray=False)

    def __call__(self, image: np.ndarray, **kwargs) -> np.ndarray:
        return self.colorize(image, **kwargs)
