"""Throughput and peak memory of the restore model on 1, 16 and 64 megapixel images.

    python bench/restore.py                       # CPU (and CUDA when present), sizes 1,16,64
    python bench/restore.py --sizes 1,16 --device cpu --tile 512

Each size runs in a fresh child process (so its peak RSS, from resource.getrusage, belongs to
that size alone): the child builds a random image, loads ``inference.Restorer`` (default
shipped weights), restores once and reports seconds, megapixels per second and peak RSS (and
peak CUDA memory on a GPU). The parent also times the machine's large-convolution throughput
(bench/conv_peak.measure_conv_peak) and reports the share of it the model reaches:
model FLOPs per pixel x pixels per second / peak FLOP/s.
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
sys.path.insert(0, str(ROOT / "bench"))


def child(mp: float, weights: str | None, device: str, tile: int, threads: int | None) -> dict:
    """Restore one random image of ``mp`` megapixels; -> measurements (run in a fresh process)."""
    import numpy as np
    import torch

    if threads:
        torch.set_num_threads(threads)
    from gan_engine.inference.wrappers import Restorer

    restorer = Restorer(weights, device=device, tile=tile)
    side = int(round((mp * 1e6) ** 0.5))
    h = side - side % 8
    w = int(round(mp * 1e6 / h))
    rng = np.random.default_rng(0)
    # A smooth random image (noise on a gradient) built row-block-wise to keep memory low.
    img = np.empty((h, w, 3), np.float32)
    for y in range(0, h, 1024):
        blk = img[y:y + 1024]
        blk[...] = rng.random(blk.shape, dtype=np.float32)
    restorer.restore(img[:256, :256].copy(), tile=tile)  # warm-up (allocator, kernels)
    if restorer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(restorer.device)
        torch.cuda.synchronize(restorer.device)
    t0 = time.perf_counter()
    restorer.restore(img, tile=tile, inplace=True)
    if restorer.device.type == "cuda":
        torch.cuda.synchronize(restorer.device)
    seconds = time.perf_counter() - t0
    out = {"megapixels": h * w / 1e6, "height": h, "width": w, "seconds": seconds,
           "mp_per_s": h * w / 1e6 / seconds,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "device": str(restorer.device), "tile": tile, "threads": torch.get_num_threads()}
    if restorer.device.type == "cuda":
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated(restorer.device) / 2**20
    return out


def model_flops(weights: str | None) -> float:
    from conv_peak import model_flops_per_pixel

    from gan_engine.inference.wrappers import Restorer

    model = Restorer(weights, device="cpu").model
    # A two-stage model's global stage runs once per image on a 128 px thumbnail (a constant,
    # ~20 MFLOP); the per-pixel cost is its U-Net's.
    return model_flops_per_pixel(getattr(model, "local", model), size=256)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1,16,64", help="megapixels, comma-separated (default 1,16,64)")
    p.add_argument("--device", default=None, help="cpu | cuda[:n] (default: cpu, and cuda when present)")
    p.add_argument("--weights", default=None, help="checkpoint (default: the shipped restore model)")
    p.add_argument("--tile", type=int, default=None, help="tile side (default: 512 CPU, 1024 CUDA)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads in the child")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child is not None:  # inside the fresh process
        print(json.dumps(child(args.child, args.weights, args.device or "cpu", args.tile or 512, args.threads)))
        return 0

    import torch
    from conv_peak import measure_conv_peak

    devices = [args.device] if args.device else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    fpp = model_flops(args.weights)
    print(f"model: {fpp / 1e3:.1f} kFLOP per pixel")
    results = []
    for device in devices:
        peak = measure_conv_peak(device, 3.0)
        tile = args.tile or (1024 if device.startswith("cuda") else 512)
        print(f"{device}: conv peak {peak:.1f} GFLOP/s (64->64 3x3 at 512^2); tile {tile}")
        for mp in (float(s) for s in args.sizes.split(",")):
            cmd = [sys.executable, __file__, "--child", str(mp), "--device", device, "--tile", str(tile)]
            if args.weights:
                cmd += ["--weights", args.weights]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"  {mp:g} MP: failed: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r["conv_peak_gflops"] = peak
            r["model_gflops"] = fpp * r["mp_per_s"] * 1e6 / 1e9
            r["share_of_peak"] = r["model_gflops"] / peak
            results.append(r)
            extra = f", peak CUDA {r['peak_cuda_mb']:.0f} MB" if "peak_cuda_mb" in r else ""
            print(f"  {r['megapixels']:6.1f} MP ({r['width']}x{r['height']}): {r['seconds']:7.1f} s, "
                  f"{r['mp_per_s']:.3f} MP/s, {r['model_gflops']:.1f} GFLOP/s = {100 * r['share_of_peak']:.0f}% "
                  f"of peak, peak RSS {r['peak_rss_mb']:.0f} MB{extra}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
