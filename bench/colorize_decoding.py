"""PSNR and colourfulness share of a colorizer under other decodings (temperature x chroma gain).

    python bench/colorize_decoding.py WEIGHTS FOLDER[,FOLDER...] TEMPS GAINS [--select]

    e.g. python bench/colorize_decoding.py gan_engine/weights/colorize.safetensors \\
        ../shared/data/eval/mcmaster,../shared/data/eval/set14,../shared/data/eval/set5 1.0 1.0,1.2,1.4 --select

It overrides the model's ``temperature`` and ``chroma`` in memory only and prints one line per
pair, pooled over the colour images of all the folders given (PSNR/SSIM: mean over images;
colourfulness share: mean of the outputs' over mean of the originals', as
``evaluation.evaluate_colorize``), then the same per folder. The network runs once per image
(its logits are cached); only the decoding is repeated. Run every torch op on one thread.

The selection set and the rule (fixed before any model or decoding was measured on it, and
never on CBSD68, the colorize evaluation set):

- selection set S = eval/mcmaster + eval/set14 + eval/set5, pooled, less the images that are
  grey already (Set14's bridge and man: R = G = B; a grey original scores the grey image at
  100 dB and says nothing about colour): 35 colour images;
- decoding: T = 1 (the mean of the softmax: the conditional mean when the classifier is
  calibrated); chroma gain g over the grid given (``--select`` needs T = 1 among TEMPS);
  g_opt = the gain of the highest S PSNR; g_even = the largest gain whose S PSNR is still at
  least the grey image's (linear interpolation between grid points); the chosen gain is
  (g_opt + g_even) / 2 rounded to 0.05 (for a quadratic error in g this keeps 3/4 of the
  PSNR-optimal improvement over grey and gives more colour); a model whose best S PSNR is not
  above grey is not eligible;
- model: among the candidates (the shipped weights; a fine-tune's best-validation and last
  checkpoints), the eligible one whose S colourfulness share at its chosen gain is >= 0.6 and
  whose S PSNR margin over grey is largest; if none reaches 0.6 on S, the eligible one with the
  largest S share.
"""

from __future__ import annotations

import hashlib
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _cache_network(model) -> None:
    """Memoise the colorizer's U-Net: the decoding (T, chroma) comes after it."""
    net, memo = model.net, {}
    plain = net.forward

    def forward(x):
        key = (tuple(x.shape), hashlib.sha1(x.detach().cpu().contiguous().numpy().tobytes()).hexdigest())
        if key not in memo:
            memo[key] = plain(x)
        return memo[key]

    net.forward = forward


def _pooled(results: list[dict]) -> dict:
    import numpy as np

    rows = [row for r in results for row in r["per_image"] if row["colourfulness_original"] > 0]  # no grey originals
    orig = float(np.mean([r["colourfulness_original"] for r in rows]))
    model = float(np.mean([r["colourfulness_model"] for r in rows]))
    return {"images": len(rows), "gray_psnr": float(np.mean([r["gray_psnr"] for r in rows])),
            "model_psnr": float(np.mean([r["model_psnr"] for r in rows])),
            "model_ssim": float(np.mean([r["model_ssim"] for r in rows])), "share": model / orig}


def measure(colorizer, folders: list[str], t: float, k: float) -> tuple[dict, list[dict]]:
    from gan_engine.evaluation import benchmarks

    colorizer.model.config["temperature"] = t
    colorizer.model.config["chroma"] = k
    results = [benchmarks.evaluate_colorize(lambda g: colorizer.colorize(g), f) for f in folders]
    return _pooled(results), results


def select_gain(rows: list[tuple[float, dict]]) -> dict:
    """The rule above on (gain, pooled) rows of T = 1, sorted by gain."""
    rows = sorted(rows, key=lambda r: r[0])
    grey = rows[0][1]["gray_psnr"]
    g_opt, best = max(((g, p["model_psnr"]) for g, p in rows), key=lambda r: r[1])
    if best <= grey:
        return {"eligible": False, "g_opt": g_opt, "best_psnr": best, "gray_psnr": grey}
    g_even = None
    for (g0, p0), (g1, p1) in zip(rows, rows[1:]):
        if g0 >= g_opt and p0["model_psnr"] >= grey > p1["model_psnr"]:
            d0, d1 = p0["model_psnr"] - grey, p1["model_psnr"] - grey
            g_even = g0 + (g1 - g0) * d0 / (d0 - d1)
            break
    if g_even is None:  # still above grey at the largest gain tried
        g_even = rows[-1][0]
    return {"eligible": True, "g_opt": g_opt, "best_psnr": best, "gray_psnr": grey, "g_even": round(g_even, 3),
            "gain": round(round((g_opt + g_even) / 2 / 0.05) * 0.05, 2)}


def main(argv: list[str]) -> int:
    import torch

    from gan_engine.inference import wrappers

    torch.set_num_threads(1)
    select = "--select" in argv
    argv = [a for a in argv if a != "--select"]
    if len(argv) != 4:
        print(__doc__)
        return 2
    weights, folders, temps, gains = argv
    folders = folders.split(",")
    colorizer = wrappers.Colorizer(weights, device="cpu")
    _cache_network(colorizer.model)
    at_t1 = []
    for t, k in itertools.product([float(x) for x in temps.split(",")], [float(x) for x in gains.split(",")]):
        p, per = measure(colorizer, folders, t, k)
        if t == 1.0:
            at_t1.append((k, p))
        parts = "; ".join(f"{Path(r['dataset']).name} {q['gray_psnr']:.2f}/{q['model_psnr']:.2f} {q['share']:.2f}"
                          for r, q in ((r, _pooled([r])) for r in per))
        print(f"T {t:.2f} chroma {k:.2f}: grey {p['gray_psnr']:.2f} dB, model {p['model_psnr']:.2f} dB "
              f"(SSIM {p['model_ssim']:.4f}), colourfulness share {p['share']:.2f}  [{parts}]", flush=True)
    if select:
        if not at_t1:
            print("--select needs T = 1.0 among the temperatures")
            return 2
        s = select_gain(at_t1)
        print("selection:", s, flush=True)
        if s["eligible"]:
            p, _ = measure(colorizer, folders, 1.0, s["gain"])
            print(f"chosen T 1.00 chroma {s['gain']:.2f}: grey {p['gray_psnr']:.2f} dB, model {p['model_psnr']:.2f} dB "
                  f"(margin {p['model_psnr'] - p['gray_psnr']:+.2f}), SSIM {p['model_ssim']:.4f}, "
                  f"share {p['share']:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
