"""Evaluating reference-style transfer: style and content losses before and after each method,
seconds per image, and a contact sheet of labelled rows of images.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np

from gan_engine.cards import sha256_file
from gan_engine.data import pairs
from gan_engine.data.imageio import as_rgb, load_rgb
from gan_engine.inference.style import METHODS, StyleOptimizeConfig, Stylizer, stylize
from gan_engine.losses.style import CONTENT_LAYERS, STYLE_LAYERS, StyleScorer, feature_network
from gan_engine.errors import InvalidInputError

__all__ = ["evaluate_style", "format_table", "image_grid"]


def evaluate_style(folder: str | Path, reference: str | Path | None, *, method: str = "color",
                   weights: str | Path | None = None, config: StyleOptimizeConfig | None = None,
                   limit: int | None = None, max_side: int = 512, device: str = "auto",
                   progress: bool = False, feature_weights: str | None = None) -> dict:
    """Style and content losses before (each content image) and after ``method``, and seconds per image.

    Every image of ``folder`` (the first ``limit``) is styled at full size; losses are measured
    by :class:`StyleScorer` at ``max_side``. For "feedforward" without ``reference`` the losses
    are measured against the reference recorded in the model card (its path must exist).
    ``feature_weights``: the VGG19 state dict of the scoring network (None: the seeded random one).
    """
    if method not in METHODS:
        raise InvalidInputError(f"unknown style method {method!r}; choose from {', '.join(METHODS)}")
    stylizer = Stylizer(weights, device=device) if method == "feedforward" else None
    if reference is None:
        if stylizer is None:
            raise InvalidInputError(f"method {method!r} needs a reference image")
        reference = stylizer.reference.get("path")
        if not reference or not Path(reference).is_file():
            raise InvalidInputError(f"give --reference: the model card's reference {reference!r} is not on this machine")
    ref = load_rgb(reference)
    scorer = StyleScorer(ref, max_side=max_side,
                         feature_net=feature_network(feature_weights, STYLE_LAYERS + CONTENT_LAYERS))
    paths = pairs.list_images(folder)[:limit]
    if not paths:
        raise InvalidInputError(f"no images in {folder}")
    it = paths
    if progress:
        from tqdm import tqdm
        it = tqdm(paths, desc=f"evaluate style {Path(folder).name}", leave=False)
    rows = []
    for path in it:
        content = load_rgb(path)
        t0 = time.perf_counter()
        out = stylize(content, method=method, reference=ref, stylizer=stylizer, config=config, device=device)
        seconds = time.perf_counter() - t0
        before, after = scorer.score(content, content), scorer.score(out, content)
        rows.append({"image": path.name, "megapixels": round(content.shape[0] * content.shape[1] / 1e6, 3),
                     "style_before": before["style"], "style_after": after["style"],
                     "content_before": before["content"], "content_after": after["content"],
                     "seconds": round(seconds, 3)})
    mean = {k: float(np.mean([r[k] for r in rows])) for k in
            ("style_before", "style_after", "content_before", "content_after", "seconds")}
    return {"task": "style", "method": method, "dataset": str(folder), "reference": str(reference),
            "reference_sha256": sha256_file(reference), "images": len(rows), "max_side": max_side,
            "feature_network": scorer.net.describe(),
            "weights": str(stylizer.weights) if stylizer else None, **mean, "per_image": rows}


def format_table(results: Sequence[dict]) -> str:
    """A plain-text table of :func:`evaluate_style` results."""
    lines = []
    for r in results:
        lines.append(f"style ({r['method']}) on {r['dataset']} ({r['images']} images, reference "
                     f"{Path(r['reference']).name}, losses at {r['max_side']} px)")
        lines.append(f"  {'':<8} {'style':>11} {'content':>11}")
        lines.append(f"  {'before':<8} {r['style_before']:11.4g} {r['content_before']:11.4g}")
        lines.append(f"  {'after':<8} {r['style_after']:11.4g} {r['content_after']:11.4g}")
        lines.append(f"  seconds per image: {r['seconds']:.2f}")
    return "\n".join(lines)


def image_grid(rows: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]], path: str | Path, *,
               height: int = 240) -> Path:
    """Save a PNG of labelled rows of captioned images (a contact sheet of several methods).

    rows: (row label, [(caption, float32 (H, W, 3) in [0, 1]), ...]); every image is scaled to
    ``height`` pixels high.
    """
    from PIL import Image, ImageDraw

    gap, caption_h = 6, 16
    rendered = []
    for label, cells in rows:
        ims = []
        for caption, img in cells:
            im = Image.fromarray((np.clip(as_rgb(img), 0, 1) * 255 + 0.5).astype(np.uint8))
            ims.append((caption, im.resize((max(1, round(im.width * height / im.height)), height), Image.LANCZOS)))
        width = sum(im.width for _, im in ims) + gap * (len(ims) - 1)
        row = Image.new("RGB", (max(width, 200), height + 2 * caption_h), "white")
        draw = ImageDraw.Draw(row)
        draw.text((2, 1), label, fill="black")
        x = 0
        for caption, im in ims:
            row.paste(im, (x, 2 * caption_h))
            draw.text((x + 2, caption_h + 1), caption, fill="black")
            x += im.width + gap
        rendered.append(row)
    sheet = Image.new("RGB", (max(r.width for r in rendered), sum(r.height + gap for r in rendered)), "white")
    y = 0
    for r in rendered:
        sheet.paste(r, (0, y))
        y += r.height + gap
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)
    return path
