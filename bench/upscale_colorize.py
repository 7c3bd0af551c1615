"""Throughput and peak memory of the upscale (x2, x4) and colorize models.

    python bench/upscale_colorize.py                        # shipped weights, CPU, default sizes
    python bench/upscale_colorize.py --tasks upscale_x4 --sizes 0.25,1,4 --device cpu

Sizes are *input* megapixels (an x4 upscale of 4 MP writes 64 MP). Each (task, size) runs in a
fresh child process so that its peak RSS (resource.getrusage) is its own: the child builds a
random image, loads the model (``inference.Upscaler`` / ``inference.Colorizer``), runs it once
after a small warm-up, and prints seconds, input and output megapixels per second and peak
RSS (and peak CUDA memory on a GPU).
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

DEFAULT_SIZES = {"upscale_x2": "1,4", "upscale_x4": "0.25,1,4", "colorize": "1,16"}


def _load(task: str, weights: str | None, device: str, tile: int):
    from gan_engine.inference.wrappers import Colorizer, Upscaler

    if task == "colorize":
        return Colorizer(weights, device=device, tile=tile)
    scale = int(task[-1])
    return Upscaler(weights, scale=scale, device=device, tile=tile)


def child(task: str, mp: float, weights: str | None, device: str, tile: int, threads: int | None) -> dict:
    import numpy as np
    import torch

    if threads:
        torch.set_num_threads(threads)
    model = _load(task, weights, device, tile)
    h = int(round((mp * 1e6) ** 0.5))
    h -= h % 32
    w = int(round(mp * 1e6 / h))
    w -= w % 32
    rng = np.random.default_rng(0)
    img = np.empty((h, w, 3), np.float32)
    for y in range(0, h, 1024):
        blk = img[y:y + 1024]
        blk[...] = rng.random(blk.shape, dtype=np.float32)
    model(img[:128, :128].copy())  # warm-up
    dev = model.device
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
        torch.cuda.synchronize(dev)
    t0 = time.perf_counter()
    out = model(img)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - t0
    res = {"task": task, "megapixels_in": h * w / 1e6, "megapixels_out": out.shape[0] * out.shape[1] / 1e6,
           "width": w, "height": h, "seconds": seconds, "mp_in_per_s": h * w / 1e6 / seconds,
           "mp_out_per_s": out.shape[0] * out.shape[1] / 1e6 / seconds,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "device": str(dev), "tile": tile, "threads": torch.get_num_threads()}
    if dev.type == "cuda":
        res["peak_cuda_mb"] = torch.cuda.max_memory_allocated(dev) / 2**20
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", default="upscale_x2,upscale_x4,colorize", help="comma-separated")
    p.add_argument("--sizes", default=None, help="input megapixels, comma-separated (default per task)")
    p.add_argument("--device", default="cpu", help="cpu | cuda[:n]")
    p.add_argument("--weights", default=None, help="checkpoint (default: the shipped one; one task only)")
    p.add_argument("--tile", type=int, default=None, help="tile side (default 256 upscale, 1024 colorize)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads in the child")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--child", nargs=2, metavar=("TASK", "MP"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    def tile_for(task: str) -> int:
        return args.tile or (1024 if task == "colorize" else 256)

    if args.child:
        task, mp = args.child[0], float(args.child[1])
        print(json.dumps(child(task, mp, args.weights, args.device, tile_for(task), args.threads)))
        return 0
    results = []
    for task in args.tasks.split(","):
        sizes = args.sizes or DEFAULT_SIZES[task]
        print(f"{task} on {args.device}, tile {tile_for(task)}", flush=True)
        for mp in sizes.split(","):
            cmd = [sys.executable, __file__, "--child", task, mp, "--device", args.device, "--tile", str(tile_for(task))]
            if args.weights:
                cmd += ["--weights", args.weights]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"  {mp} MP: failed: {proc.stderr.strip().splitlines()[-1:]}", flush=True)
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(r)
            extra = f", peak CUDA {r['peak_cuda_mb']:.0f} MB" if "peak_cuda_mb" in r else ""
            print(f"  {r['megapixels_in']:6.2f} MP in -> {r['megapixels_out']:6.2f} MP out: {r['seconds']:7.2f} s, "
                  f"{r['mp_in_per_s']:.3f} MP/s in, {r['mp_out_per_s']:.3f} MP/s out, "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB{extra}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
