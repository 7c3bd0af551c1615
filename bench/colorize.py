"""The semantic colorizer against the grey image: quality (automatic and with a reference) and speed.

    python bench/colorize.py                              # shipped weights, eval/cbsd68, 1 MP timing
    python bench/colorize.py --folder ../shared/data/eval/mcmaster --limit 10 --threads 2

In one run, on the same images:
- automatic: RGB PSNR of the colorized grey copy (CIE L of the original, a = b = 0) and of the
  grey copy itself; colourfulness (Hasler & Suesstrunk) of the output as a share of the
  originals';
- with a reference that is a re-framed colour copy of the same photograph: mirrored, cropped
  to 70 % at a random place and rescaled by a random factor in [0.8, 1.25] (seeded);
- speed on a 1 MP photograph (an evaluation image resized to 1 MP): seconds for the
  automatic path and for the reference path, beside the grey baseline (no work), and the
  process's peak RSS.
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

log = logging.getLogger("bench.colorize")


def reframe(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirrored, a random 70 % crop, rescaled by a random factor in [0.8, 1.25]."""
    import cv2

    h, w = img.shape[:2]
    img = img[:, ::-1]
    ch, cw = int(h * 0.7), int(w * 0.7)
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    s = rng.uniform(0.8, 1.25)
    crop = np.ascontiguousarray(img[y:y + ch, x:x + cw])
    return cv2.resize(crop, (int(cw * s), int(ch * s)), interpolation=cv2.INTER_AREA)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None, help="colorizer weights (default: the shipped ones)")
    ap.add_argument("--folder", default=str(ROOT.parent / "shared" / "data" / "eval" / "cbsd68"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    import cv2
    import torch
    from tqdm import tqdm

    from gan_engine.data import color
    from gan_engine.evaluation import metrics
    from gan_engine.evaluation.benchmarks import load_clean_images
    from gan_engine.inference.wrappers import Colorizer

    torch.set_num_threads(args.threads)
    colorizer = Colorizer(args.weights, device="cpu")
    rng = np.random.default_rng(args.seed)
    rows = []
    images = [(p, img) for p, img in load_clean_images(args.folder)[:args.limit]
              if np.ptp(img, axis=2).max() > 1e-3]  # grey originals cannot score colour
    for path, img in tqdm(images, desc="images"):
        lab = color.rgb_to_lab(img)
        lab[..., 1:] = 0.0
        grey = color.lab_to_rgb(lab).astype(np.float32)
        auto = colorizer.colorize(grey)
        ref = colorizer.colorize(grey, reference=reframe(img, rng))
        rows.append({"grey": metrics.psnr(grey, img), "auto": metrics.psnr(auto, img),
                     "ref": metrics.psnr(ref, img), "c_true": metrics.colourfulness(img),
                     "c_auto": metrics.colourfulness(auto), "c_ref": metrics.colourfulness(ref)})
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    print(f"{args.folder} ({len(rows)} colour images), RGB PSNR dB and colourfulness")
    print(f"  {'':<28} {'PSNR':>7} {'vs grey':>8} {'colourf.':>9} {'share':>6}")
    print(f"  {'grey (L only)':<28} {mean['grey']:7.2f} {0.0:+8.2f} {0.0:9.1f} {0.0:6.2f}")
    print(f"  {'automatic':<28} {mean['auto']:7.2f} {mean['auto'] - mean['grey']:+8.2f} "
          f"{mean['c_auto']:9.1f} {mean['c_auto'] / mean['c_true']:6.2f}")
    print(f"  {'reference (re-framed copy)':<28} {mean['ref']:7.2f} {mean['ref'] - mean['grey']:+8.2f} "
          f"{mean['c_ref']:9.1f} {mean['c_ref'] / mean['c_true']:6.2f}")
    print(f"  {'true colour':<28} {'':>7} {'':>8} {mean['c_true']:9.1f} {1.0:6.2f}")

    # Speed at 1 MP: an evaluation image resized to 1 MP (4:3), warm model.
    img = images[0][1]
    big = cv2.resize(img, (1155, 866), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    lab = color.rgb_to_lab(big)
    lab[..., 1:] = 0.0
    grey = np.clip(color.lab_to_rgb(lab), 0, 1).astype(np.float32)
    reference = reframe(big, rng)
    colorizer.colorize(grey[:256, :256])  # warm-up
    t0 = time.perf_counter()
    colorizer.colorize(grey)
    t_auto = time.perf_counter() - t0
    t0 = time.perf_counter()
    colorizer.colorize(grey, reference=reference)
    t_ref = time.perf_counter() - t0
    mp = grey.shape[0] * grey.shape[1] / 1e6
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"speed on {mp:.2f} MP, {args.threads} threads: grey (no work) 0.00 s | automatic {t_auto:.2f} s "
          f"({mp / t_auto:.2f} MP/s) | with reference {t_ref:.2f} s ({mp / t_ref:.2f} MP/s) | peak RSS {rss:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
