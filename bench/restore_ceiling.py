"""How much of the evaluation's damage is global, and what a perfect global correction would give.

The restore bar asks for +6 dB over the aged input on ``degrade_for_eval`` copies. This script
splits that input's error by replaying each image's aging record with parts of it removed, and
fits oracle corrections that see the clean image (so no blind model can do better with them):

- ``input``: the aged image, as the evaluate command scores it;
- ``without global ops``: the record replayed without the global tone/colour/illumination ops
  (exposure, fade, dye fade, cast, toning, desaturation, vignette, gradient, stains): what is
  left is local damage (noise, grain, blur, specks, scratches, cracks, JPEG, resampling);
- ``global ops only``: the record replayed with only those global ops;
- ``oracle ToneColour``: the parameters of ``generators.ToneColour`` (monotone per-channel curves
  + colour matrix: the shipped model's global stage) fitted per image to the clean target by
  Adam (``--fit-steps``): the best the global stage could do if it knew the answer.

    .venv/bin/python bench/restore_ceiling.py ../shared/data/eval/cbsd68 [--seed 0] [--limit N]

Same protocol as ``evaluate --task restore``: files sorted by name, image i aged with seed
``seed + i``, every second one a grey print scored on BT.601 luminance.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gan_engine.archs import generators  # noqa: E402
from gan_engine.data.degradations import pipeline, tone  # noqa: E402
from gan_engine.evaluation import benchmarks, metrics  # noqa: E402

GLOBAL_OPS = {"exposure", "fade", "dye_fade", "colour_cast", "sepia_tone", "desaturate", "vignette",
              "gradient", "stains"}


def oracle_tonecolour(aged: np.ndarray, target: np.ndarray, steps: int) -> np.ndarray:
    """ToneColour parameters fitted to the target by Adam on L1; -> the corrected image."""
    model = generators.ToneColour()
    x = torch.from_numpy(aged).permute(2, 0, 1)[None]
    t = torch.from_numpy(np.ascontiguousarray(target)).permute(2, 0, 1)[None]
    params = torch.zeros(1, model.n_params, requires_grad=True)
    opt = torch.optim.Adam([params], lr=0.05)
    for _ in range(steps):
        loss = (model.apply(x, params) - t).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return model.apply(x, params).clamp(0, 1)[0].permute(1, 2, 0).numpy()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int)
    p.add_argument("--fit-steps", type=int, default=300)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    summary = {}
    for folder in args.folders:
        rows = {"input": [], "without global ops": [], "global ops only": [], "oracle ToneColour": []}
        for i, (_, clean) in enumerate(benchmarks.load_clean_images(folder)[:args.limit]):
            gray = i % 2 == 1
            aged, record = pipeline.age_image(clean, args.seed + i, pipeline.eval_config(gray))
            target = tone.to_gray_print(clean) if gray else clean
            on = "y" if gray else "rgb"

            def score(img):
                return metrics.psnr(np.clip(img, 0, 1).astype(np.float32), target, on=on)
            rows["input"].append(score(aged))
            rows["without global ops"].append(score(pipeline.replay(
                clean, [r for r in record if r[0] not in GLOBAL_OPS])))
            rows["global ops only"].append(score(pipeline.replay(
                clean, [r for r in record if r[0] in GLOBAL_OPS or r[0] == "to_gray_print"])))
            rows["oracle ToneColour"].append(score(oracle_tonecolour(aged, target, args.fit_steps)))
        # a replay without any op is the clean image itself (infinite PSNR): report the median too
        summary[Path(folder).name] = {k: {"mean_psnr": float(np.mean(np.minimum(v, 60.0))),
                                          "median_psnr": float(np.median(v))} for k, v in rows.items()}
        n = len(rows["input"])
        print(f"\n{Path(folder).name} ({n} images; PSNR dB, infinite values capped at 60 for the mean)")
        for k, v in rows.items():
            print(f"  {k:<20} mean {np.mean(np.minimum(v, 60.0)):6.2f}  median {np.median(v):6.2f}")
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
