"""PSNR/SSIM of the classical OpenCV baseline on a folder of clean images.

Every image of FOLDER (sorted by name) is aged with
``pipeline.degrade_for_eval(clean, seed + i, gray=(i % 2 == 1))`` (the protocol of the
evaluate command: every second image a black-and-white print), restored with
``classical.classical_restore``, and scored against the clean image: colour images on RGB, grey
prints on the BT.601 Y channel (``metrics`` ``on="y"``, as the evaluate command does; the target
of a grey print is its luminance). Prints a table and the JSON summary.

    .venv/bin/python bench/classical.py ../shared/data/eval/cbsd68 [--seed 0] [--limit N]
        [--json out.json] [--save-dir DIR]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gan_engine.data.degradations import pipeline  # noqa: E402
from gan_engine.evaluation import metrics  # noqa: E402
from gan_engine.inference.classical import classical_restore  # noqa: E402

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def load_rgb(path: Path) -> np.ndarray:
    """8- or 16-bit image file -> (H, W, 3) float32 in [0, 1]."""
    with Image.open(path) as im:
        if im.mode in ("I;16", "I;16B", "I"):
            arr = np.asarray(im, dtype=np.float32) / 65535.0
            return np.repeat(arr[..., None], 3, axis=2)
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


def run(folder: Path, *, seed: int = 0, limit: int | None = None,
        save_dir: Path | None = None) -> dict:
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not paths:
        raise SystemExit(f"no images in {folder}")
    rows = []
    for i, path in enumerate(paths):
        clean = load_rgb(path)
        gray = i % 2 == 1
        on = "y" if gray else "rgb"
        aged = pipeline.degrade_for_eval(clean, seed + i, gray)
        start = time.perf_counter()
        restored = classical_restore(aged)
        seconds = time.perf_counter() - start
        if save_dir is not None:
            save_dir.mkdir(parents=True, exist_ok=True)
            strip = np.concatenate([aged, restored, clean], axis=1)
            Image.fromarray((strip * 255 + 0.5).astype(np.uint8)).save(save_dir / f"{path.stem}.png")
        rows.append({
            "image": path.name, "gray": gray, "seconds": round(seconds, 3),
            "input_psnr": metrics.psnr(aged, clean, on=on), "input_ssim": metrics.ssim(aged, clean, on=on),
            "classical_psnr": metrics.psnr(restored, clean, on=on),
            "classical_ssim": metrics.ssim(restored, clean, on=on),
        })

    def mean(key: str, subset=None) -> float:
        vals = [r[key] for r in rows if subset is None or r["gray"] == subset]
        return round(float(np.mean(vals)), 4) if vals else float("nan")

    summary = {"dataset": str(folder), "images": len(rows), "seed": seed,
               "protocol": "degrade_for_eval(clean, seed + i, gray=(i % 2 == 1)); colour scored "
                           "on RGB, grey prints on BT.601 Y",
               "mean_seconds_classical": mean("seconds")}
    for name, subset in (("all", None), ("colour", False), ("grey", True)):
        summary[name] = {key: mean(key, subset) for key in
                         ("input_psnr", "input_ssim", "classical_psnr", "classical_ssim")}
    return {"summary": summary, "rows": rows}


def print_table(result: dict) -> None:
    rows, s = result["rows"], result["summary"]
    print(f"{'image':28s} {'kind':6s} {'in PSNR':>8s} {'in SSIM':>8s} {'cl PSNR':>8s} {'cl SSIM':>8s}")
    for r in rows:
        print(f"{r['image'][:28]:28s} {'grey' if r['gray'] else 'colour':6s} {r['input_psnr']:8.2f} "
              f"{r['input_ssim']:8.4f} {r['classical_psnr']:8.2f} {r['classical_ssim']:8.4f}")
    print("-" * 72)
    for name in ("all", "colour", "grey"):
        m = s[name]
        print(f"{'mean ' + name:28s} {'':6s} {m['input_psnr']:8.2f} {m['input_ssim']:8.4f} "
              f"{m['classical_psnr']:8.2f} {m['classical_ssim']:8.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of clean images")
    parser.add_argument("--seed", type=int, default=0, help="base seed (image i uses seed + i)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--json", type=Path, default=None, help="also write the full result here")
    parser.add_argument("--save-dir", type=Path, default=None,
                        help="write aged | classical | clean strips here for inspection")
    args = parser.parse_args(argv)
    result = run(args.folder, seed=args.seed, limit=args.limit, save_dir=args.save_dir)
    print_table(result)
    print(json.dumps(result["summary"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
