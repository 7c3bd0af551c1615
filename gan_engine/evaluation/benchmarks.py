"""Evaluating a restorer against the aged input and the classical baseline.

``evaluate_restore`` ages every clean image of a folder with a fixed seed (every second one as
a black-and-white print, scored on luminance as the grey-print target has no colour), restores
it with the model and with ``classical.classical_restore``, and returns mean PSNR/SSIM of the
three. ``evaluate_denoise`` is the grey Gaussian denoising protocol of DnCNN (BSD68 = the
luminance of CBSD68, 8-bit, noise sigma 25/255) for comparison with published figures.
``contact_sheet`` puts before/after pairs side by side for a human to look at.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from gan_engine.data.degradations import blur_noise, pipeline
from gan_engine.data.pairs import decode_image, list_images
from gan_engine.evaluation import metrics
from gan_engine.errors import InvalidInputError

log = logging.getLogger(__name__)

# Published grey denoising PSNR on BSD68 (dB), sigma -> method -> value (Zhang et al. 2017).
PUBLISHED_BSD68 = {15: {"BM3D": 31.07, "DnCNN-S": 31.73}, 25: {"BM3D": 28.57, "DnCNN-S": 29.23},
                   50: {"BM3D": 25.62, "DnCNN-S": 26.23}}

RestoreFn = Callable[[np.ndarray], np.ndarray]


def load_clean_images(folder: str | Path) -> list[tuple[Path, np.ndarray]]:
    """(path, float32 (H, W, 3) in [0, 1]) for every image of ``folder``, sorted by path."""
    out = []
    for p in list_images(folder):
        out.append((p, decode_image(p).astype(np.float32) / 255.0))
    if not out:
        raise InvalidInputError(f"no images in {folder}")
    return out


def _scores(img: np.ndarray, ref: np.ndarray, on: str) -> tuple[float, float]:
    img = np.clip(img, 0.0, 1.0).astype(np.float32)
    return metrics.psnr(img, ref, on=on), metrics.ssim(img, ref, on=on)


def evaluate_restore(restore: RestoreFn, folder: str | Path, *, seed: int = 0,
                     classical: RestoreFn | None = None, limit: int | None = None,
                     progress: bool = False) -> dict:
    """Score ``restore`` on the fixed-seed aged images of ``folder``.

    restore: float32 (H, W, 3) [0, 1] -> same. Image i is aged by
    ``pipeline.degrade_for_eval(clean, seed + i, gray=(i % 2 == 1))``; grey prints are scored
    on luminance (BT.601 Y), colour ones on RGB. Returns {"input"|"classical"|"model": {"psnr",
    "ssim"}, "images", "per_image", ...}.
    """
    if classical is None:
        from gan_engine.inference.classical import classical_restore as classical
    images = load_clean_images(folder)[:limit]
    rows = []
    it = images
    if progress:
        from tqdm import tqdm
        it = tqdm(images, desc=f"evaluate {Path(folder).name}", leave=False)
    t_model = 0.0
    for i, (path, clean) in enumerate(it):
        gray = i % 2 == 1
        on = "y" if gray else "rgb"
        aged = np.clip(np.asarray(pipeline.degrade_for_eval(clean, seed + i, gray), np.float32), 0, 1)
        t0 = time.perf_counter()
        restored = restore(aged)
        t_model += time.perf_counter() - t0
        row = {"image": path.name, "gray": gray}
        for name, img in (("input", aged), ("classical", classical(aged)), ("model", restored)):
            row[f"{name}_psnr"], row[f"{name}_ssim"] = _scores(img, clean, on)
        rows.append(row)
        log.debug("%s", row)
    summary = {name: {"psnr": float(np.mean([r[f"{name}_psnr"] for r in rows])),
                      "ssim": float(np.mean([r[f"{name}_ssim"] for r in rows]))}
               for name in ("input", "classical", "model")}
    return {"task": "restore", "dataset": str(folder), "images": len(rows), "seed": seed,
            "protocol": "degradations.degrade_for_eval(clean, seed + i, gray=(i % 2 == 1)); "
                        "grey prints scored on BT.601 luminance",
            **summary, "model_seconds": round(t_model, 2), "per_image": rows}


def evaluate_denoise(restore: RestoreFn, folder: str | Path, *, sigma: float = 25.0, seed: int = 0,
                     limit: int | None = None) -> dict:
    """Grey Gaussian denoising (DnCNN protocol): 8-bit luminance of each image + N(0, sigma/255).

    The model sees the noisy grey image replicated to three channels; PSNR/SSIM on the grey image.
    """
    rows = []
    for i, (path, clean) in enumerate(load_clean_images(folder)[:limit]):
        y = np.round(metrics.rgb_to_y(clean) * 255.0) / 255.0
        y = y.astype(np.float32).reshape(clean.shape[:2])
        y3 = np.repeat(y[..., None], 3, axis=2)
        noisy = np.asarray(blur_noise.add_gaussian_noise(y3, sigma, seed + i), np.float32)
        noisy = np.repeat(noisy[..., :1], 3, axis=2)
        out = np.clip(restore(noisy), 0, 1)
        rows.append({"image": path.name,
                     "input_psnr": metrics.psnr(noisy, y3, on="y"), "model_psnr": metrics.psnr(out, y3, on="y"),
                     "input_ssim": metrics.ssim(noisy, y3, on="y"), "model_ssim": metrics.ssim(out, y3, on="y")})
    res = {"task": "denoise", "dataset": str(folder), "images": len(rows), "sigma": sigma, "seed": seed,
           "input": {"psnr": float(np.mean([r["input_psnr"] for r in rows])),
                     "ssim": float(np.mean([r["input_ssim"] for r in rows]))},
           "model": {"psnr": float(np.mean([r["model_psnr"] for r in rows])),
                     "ssim": float(np.mean([r["model_ssim"] for r in rows]))},
           "per_image": rows}
    if int(sigma) in PUBLISHED_BSD68:
        res["published"] = PUBLISHED_BSD68[int(sigma)]
    return res


# Published super-resolution PSNR (dB, Y channel, border cropped by the scale) and colourisation
# reference points, reported beside our figures.
PUBLISHED_SR = {
    ("set5", 4): {"bicubic": 28.42, "SRCNN": 30.49, "DnCNN-3": 31.40},
    ("set14", 4): {"bicubic": 26.00, "SRCNN": 27.50, "DnCNN-3": 28.04},
    ("set5", 2): {"bicubic": 33.66, "SRCNN": 36.66, "DnCNN-3": 37.58},
    ("set14", 2): {"bicubic": 30.24, "SRCNN": 32.42, "DnCNN-3": 33.03},
}


def evaluate_upscale(upscale: RestoreFn, folder: str | Path, *, scale: int, limit: int | None = None) -> dict:
    """Super-resolution as the published tables score it.

    Each image is cropped to a multiple of ``scale``, shrunk by ``resampling.bicubic_downscale``
    (bicubic, antialiased, 8-bit), upscaled by ``upscale`` (float32 (h, w, 3) -> (h*s, w*s, 3))
    and by bicubic; PSNR/SSIM on Y (BT.601, MATLAB's rgb2ycbcr) with ``scale`` border pixels
    cropped, outputs rounded to 8 bits as the published figures are.
    """
    from gan_engine.data import resampling

    rows = []
    t_model = 0.0
    for path, img in load_clean_images(folder)[:limit]:
        hr = resampling.modcrop(img, scale)
        lr = resampling.bicubic_downscale(hr, scale)
        t0 = time.perf_counter()
        sr = resampling.quantize8(upscale(lr))
        t_model += time.perf_counter() - t0
        bic = resampling.quantize8(resampling.bicubic_upscale(lr, scale))
        row = {"image": path.name}
        for name, out in (("bicubic", bic), ("model", sr)):
            row[f"{name}_psnr"] = metrics.psnr(out, hr, on="y", crop=scale)
            row[f"{name}_ssim"] = metrics.ssim(out, hr, on="y", crop=scale)
        rows.append(row)
    res = {"task": f"upscale x{scale}", "dataset": str(folder), "images": len(rows), "scale": scale,
           "protocol": "modcrop, bicubic 1/s (antialiased, 8-bit), PSNR/SSIM on Y with s border pixels cropped",
           **{name: {"psnr": float(np.mean([r[f"{name}_psnr"] for r in rows])),
                     "ssim": float(np.mean([r[f"{name}_ssim"] for r in rows]))} for name in ("bicubic", "model")},
           "model_seconds": round(t_model, 2), "per_image": rows}
    published = PUBLISHED_SR.get((Path(folder).name.lower(), scale))
    if published:
        res["published"] = published
    return res


def evaluate_colorize(colorize: RestoreFn, folder: str | Path, *, limit: int | None = None) -> dict:
    """Colourisation of grey copies (Lab L kept, a = b = 0) of the colour images of ``folder``.

    PSNR/SSIM on RGB against the colour original, for the colourised image and for the grey
    image itself; colourfulness (Hasler & Suesstrunk) of the outputs as a share of the
    originals' (mean over images of the output's, over the mean of the originals').
    """
    from gan_engine.training.colorization import gray_of

    rows = []
    t_model = 0.0
    for path, img in load_clean_images(folder)[:limit]:
        gray = gray_of(img)
        t0 = time.perf_counter()
        out = np.clip(colorize(gray), 0.0, 1.0).astype(np.float32)
        t_model += time.perf_counter() - t0
        row = {"image": path.name, "colourfulness_original": metrics.colourfulness(img),
               "colourfulness_model": metrics.colourfulness(out)}
        for name, x in (("gray", gray), ("model", out)):
            row[f"{name}_psnr"], row[f"{name}_ssim"] = _scores(x, img, "rgb")
        rows.append(row)
    orig = float(np.mean([r["colourfulness_original"] for r in rows]))
    model_c = float(np.mean([r["colourfulness_model"] for r in rows]))
    return {"task": "colorize", "dataset": str(folder), "images": len(rows),
            "protocol": "grey = Lab L of the original (a = b = 0); RGB PSNR/SSIM against the original",
            **{name: {"psnr": float(np.mean([r[f"{name}_psnr"] for r in rows])),
                      "ssim": float(np.mean([r[f"{name}_ssim"] for r in rows]))} for name in ("gray", "model")},
            "colourfulness": {"original": orig, "model": model_c, "share": model_c / orig if orig else 0.0},
            "model_seconds": round(t_model, 2), "per_image": rows}


def format_table(results: Sequence[dict]) -> str:
    """A plain-text table of evaluation results (one block per dataset)."""
    lines = []
    for r in results:
        extra = (f", sigma {r['sigma']:g}" if "sigma" in r else f", seed {r['seed']}" if "seed" in r else "")
        lines.append(f"{r['task']} on {r['dataset']} ({r['images']} images{extra})")
        lines.append(f"  {'':<10} {'PSNR dB':>8} {'SSIM':>7}")
        for name in ("input", "gray", "bicubic", "classical", "model"):
            if name in r:
                lines.append(f"  {name:<10} {r[name]['psnr']:8.2f} {r[name]['ssim']:7.4f}")
        for name, value in (r.get("published") or {}).items():
            lines.append(f"  {name:<10} {value:8.2f} {'(pub.)':>7}")
        if "colourfulness" in r:
            c = r["colourfulness"]
            lines.append(f"  colourfulness: model {c['model']:.1f} / original {c['original']:.1f} "
                         f"= share {c['share']:.2f}")
    return "\n".join(lines)


def contact_sheet(pairs: Sequence[tuple], path: str | Path, *, height: int = 320, columns: int = 2,
                  titles: Sequence[str] = ("before", "after")) -> Path:
    """Save a contact sheet PNG of before/after pairs (or longer rows, e.g. before | mask | after).

    pairs: (label, image, image, ...), images float32 (H, W, 3) or (H, W) [0, 1], as many as
    ``titles``. Each tuple becomes a cell with its images side by side at ``height`` pixels,
    captioned "label: title | title ..."; cells fill ``columns`` columns.
    """
    from PIL import Image, ImageDraw

    cells = []
    for label, *images in pairs:
        if len(images) != len(titles):
            raise ValueError(f"{label}: {len(images)} images for {len(titles)} titles")
        ims = []
        for img in images:
            img = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]
            im = Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))
            w = max(1, round(im.width * height / im.height))
            ims.append(im.resize((w, height), Image.LANCZOS))
        cell = Image.new("RGB", (sum(im.width for im in ims) + 6 * (len(ims) - 1), height + 22), "white")
        x = 0
        for im in ims:
            cell.paste(im, (x, 22))
            x += im.width + 6
        ImageDraw.Draw(cell).text((4, 4), f"{label}: {' | '.join(titles)}", fill="black")
        cells.append(cell)
    rows = [cells[i:i + columns] for i in range(0, len(cells), columns)]
    width = max(sum(c.width for c in r) + 10 * (len(r) - 1) for r in rows)
    sheet = Image.new("RGB", (width, sum(max(c.height for c in r) + 10 for r in rows)), "white")
    y = 0
    for r in rows:
        x = 0
        for c in r:
            sheet.paste(c, (x, y))
            x += c.width + 10
        y += max(c.height for c in r) + 10
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)
    return path


def record_in_card(weights: str | Path, results: Sequence[dict], *, command: str = "") -> Path:
    """Add evaluation summaries (without per-image rows) to the model card beside ``weights``.

    The card's ``evaluation`` maps "<task>:<dataset folder name>" to the summary; the weights
    file (and so its sha256) is untouched.
    """
    import json

    from gan_engine.checkpoints import read_card

    card_path = Path(weights).with_suffix(".json")
    card = read_card(weights)
    section = dict(card.get("evaluation") or {})
    for r in results:
        summary = {k: v for k, v in r.items() if k != "per_image"}
        if command:
            summary["command"] = command
        section[f"{r['task']}:{Path(r['dataset']).name}"] = summary
    card["evaluation"] = section
    tmp = card_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    tmp.replace(card_path)
    return card_path
