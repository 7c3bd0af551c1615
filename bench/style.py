"""Time, peak memory and losses of the three style methods on a 1 megapixel image.

    python bench/style.py                                  # color, optimize (100 steps), feedforward
    python bench/style.py --steps 200 --megapixels 1 --device cpu --json bench_style.json
    python bench/style.py --content photo.jpg --reference print.png --methods color,optimize
    python bench/style.py --contact-sheet docs/style_contact_sheet.png --steps 200

The content image (default: ../shared/data/eval/cbsd68/102061.png, a chateau, resized to the
requested megapixels; a synthetic scene when the data folder is absent) and the reference
(default: ../shared/data/real/old/e.png; a synthetic sepia print when absent) are styled once
per method, each method in a fresh child process so that its peak RSS (resource.getrusage)
belongs to it alone. Reported per method: seconds (after a small warm-up run, model loading
excluded and reported apart), megapixels per second, peak RSS, and the style and content
losses before (the content image) and after, measured the same way for every method by
``gan_engine.losses.style.StyleScorer`` at 512 px.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
DEFAULT_CONTENT = DATA / "eval" / "cbsd68" / "102061.png"
DEFAULT_REFERENCE = DATA / "real" / "old" / "e.png"


def _content(path: str | None, megapixels: float):
    import cv2
    import numpy as np

    from gan_engine.data.imageio import load_rgb

    if path is None and DEFAULT_CONTENT.is_file():
        path = str(DEFAULT_CONTENT)
    if path is not None:
        img = load_rgb(path)
    else:  # a synthetic scene: gradients, edges and noise
        yy, xx = np.mgrid[0:600, 0:800].astype(np.float32)
        img = np.stack([0.5 + 0.4 * np.sin(xx / 37), 0.5 + 0.4 * np.cos(yy / 23), (xx + yy) / 1400], axis=2)
        img = np.clip(img + 0.05 * np.random.default_rng(0).standard_normal(img.shape), 0, 1).astype(np.float32)
        path = "synthetic"
    f = (megapixels * 1e6 / (img.shape[0] * img.shape[1])) ** 0.5
    size = (round(img.shape[1] * f), round(img.shape[0] * f))
    return cv2.resize(img, size, interpolation=cv2.INTER_CUBIC if f > 1 else cv2.INTER_AREA).clip(0, 1), path


def _reference(path: str | None):
    import numpy as np

    from gan_engine.data import color
    from gan_engine.data.imageio import load_rgb

    if path is None and DEFAULT_REFERENCE.is_file():
        path = str(DEFAULT_REFERENCE)
    if path is not None:
        return load_rgb(path), path
    lab = np.zeros((256, 256, 3), np.float32)
    lab[..., 0] = 20 + 70 * (0.5 + 0.5 * np.sin(np.arange(256) / 5.0))[None, :]
    lab[..., 1], lab[..., 2] = 8, 22
    return color.lab_to_rgb(lab), "synthetic sepia"


def child(args) -> dict:
    """One method on the content image (run in a fresh process) -> measurements."""
    import torch

    torch.set_num_threads(args.threads)
    from gan_engine.inference import style
    from gan_engine.cli.common import _feature_weights
    from gan_engine.losses.style import CONTENT_LAYERS, STYLE_LAYERS, StyleScorer, feature_network

    content, content_path = _content(args.content, args.megapixels)
    reference, reference_path = _reference(args.reference)
    method = args.child
    t_load = time.perf_counter()
    stylizer = style.Stylizer(args.weights, device=args.device) if method == "feedforward" else None
    load_s = time.perf_counter() - t_load
    # The feature network is passed in (GAN_VGG19_WEIGHTS read here, as the CLI does).
    vgg = _feature_weights()
    config = style.StyleOptimizeConfig(steps=args.steps, device=args.device, progress=False, feature_weights=vgg)
    warm = content[:64, :64].copy()
    style.stylize(warm, method=method, reference=reference, stylizer=stylizer, device=args.device,
                  config=style.StyleOptimizeConfig(steps=1, max_side=64, device=args.device, progress=False))
    t0 = time.perf_counter()
    out = style.stylize(content, method=method, reference=reference, stylizer=stylizer, config=config,
                        device=args.device)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    scorer = StyleScorer(reference, feature_net=feature_network(vgg, STYLE_LAYERS + CONTENT_LAYERS))
    before, after = scorer.score(content, content), scorer.score(out, content)
    h, w = content.shape[:2]
    return {"method": method, "steps": args.steps if method == "optimize" else None, "height": h, "width": w,
            "megapixels": h * w / 1e6, "seconds": seconds, "mp_per_s": h * w / 1e6 / seconds,
            "load_seconds": load_s, "peak_rss_mb": peak, "style_before": before["style"],
            "style_after": after["style"], "content_before": before["content"], "content_after": after["content"],
            "content_image": content_path, "reference": reference_path, "device": args.device,
            "threads": torch.get_num_threads(), "feature_network": scorer.net.describe()["kind"]}


#: Contact-sheet pairs (content, reference) in ../shared/data: a colour photograph and a grey
#: print each given the autochrome the shipped model was trained on, a faded colour print given
#: a better-kept autochrome, a grey print given a sepia-toned one.
SHEET_PAIRS = (
    ("eval/cbsd68/102061.png", "real/old/e.png"),
    ("real/gray/wolf_gray.jpg", "real/old/e.png"),
    ("real/old/a.png", "real/old/b.png"),
    ("train/gray/bsd400_test_001.png", "real/old/scratch_a.png"),
)


def contact_sheet(path: str, *, steps: int, height: int, side: int, weights: str | None) -> Path:
    """Rows of content | reference | color | optimize | feedforward (only for its own reference)."""
    from gan_engine import cards
    from gan_engine.data import pairs
    from gan_engine.data.imageio import load_rgb
    from gan_engine.data.resampling import resize_max_side
    from gan_engine.evaluation.style import image_grid
    from gan_engine.inference import style

    stylizer = style.Stylizer(weights, device="cpu")
    baked = stylizer.reference.get("sha256")
    rows = []
    for content_rel, reference_rel in SHEET_PAIRS:
        content_path, reference_path = DATA / content_rel, DATA / reference_rel
        if not content_path.is_file():  # a data set laid out differently: take its first image
            content_path = pairs.list_images(content_path.parent)[0]
        content = resize_max_side(load_rgb(content_path), side)
        reference = load_rgb(reference_path)
        config = style.StyleOptimizeConfig(steps=steps, progress=False)
        cells = [("content", content), ("reference", resize_max_side(reference, side)),
                 ("color", style.color_transfer(content, reference)),
                 (f"optimize ({steps} steps)", style.optimize_style(content, reference, config)[0])]
        if cards.sha256_file(reference_path) == baked:
            cells.append(("feedforward", stylizer.stylize(content)))
        rows.append((f"{content_path.name} <- {reference_path.name}", cells))
        print(f"  {rows[-1][0]}", flush=True)
    return image_grid(rows, path, height=height)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--methods", default="color,optimize,feedforward", help="comma-separated (default: all three)")
    p.add_argument("--megapixels", type=float, default=1.0, help="content size (default 1)")
    p.add_argument("--steps", type=int, default=100, help="optimisation steps of the optimize method (default 100)")
    p.add_argument("--content", help="content image (default: ../shared/data/eval/cbsd68/102061.png)")
    p.add_argument("--reference", help="style reference (default: ../shared/data/real/old/e.png)")
    p.add_argument("--weights", help="feedforward checkpoint (default: the shipped style model)")
    p.add_argument("--device", default="cpu", help="cpu | cuda[:n] (default cpu)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--contact-sheet", metavar="PNG", help="instead: write the contact sheet of SHEET_PAIRS here")
    p.add_argument("--sheet-side", type=int, default=320, help="long side of the sheet's content images (default 320)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.contact_sheet:
        import torch

        torch.set_num_threads(args.threads)
        print(contact_sheet(args.contact_sheet, steps=args.steps, height=args.sheet_side * 3 // 4,
                            side=args.sheet_side, weights=args.weights))
        return 0

    if args.child:
        print(json.dumps(child(args)))
        return 0

    results = []
    print(f"{'method':<12} {'size':>10} {'seconds':>8} {'MP/s':>7} {'peak RSS':>9} "
          f"{'style before':>13} {'style after':>12} {'content after':>14}")
    for method in args.methods.split(","):
        cmd = [sys.executable, __file__, "--child", method, "--megapixels", str(args.megapixels),
               "--steps", str(args.steps), "--device", args.device, "--threads", str(args.threads)]
        for name in ("content", "reference", "weights"):
            if getattr(args, name):
                cmd += [f"--{name}", getattr(args, name)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{method:<12} failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        label = method + (f" ({r['steps']})" if r["steps"] else "")
        print(f"{label:<12} {r['width']}x{r['height']:<5} {r['seconds']:8.2f} {r['mp_per_s']:7.3f} "
              f"{r['peak_rss_mb']:7.0f} MB {r['style_before']:13.4g} {r['style_after']:12.4g} "
              f"{r['content_after']:14.4g}", flush=True)
    if results:
        print(f"content: {results[0]['content_image']}; reference: {results[0]['reference']}; "
              f"feature network: {results[0]['feature_network']}; {results[0]['threads']} threads")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
