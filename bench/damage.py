"""Damage detection and inpainting on held-out synthetic damage, against OpenCV's Telea inpainting.

Every image of each FOLDER (sorted by name; never a training folder) gets
``damage_example(clean, seed + i)``: aged without physical damage, then scratches, cracks, dust and
tears drawn with their mask, then scanned (blur / noise / JPEG). Seeds start at ``--seed``
(default 100000; training draws its examples from one generator seeded 0 and validates on seeds
from 1000000), so these damages were never seen in training. In one run, on the same images:

- detection: pixel precision, recall and F1 of ``sigmoid(logits) > threshold`` against the true
  mask, summed over all pixels of all images ("strict"), and with a 1-px tolerance (a predicted
  pixel within 1 px of a true one counts as right, a true pixel within 1 px of a predicted one
  as found: a mask one pixel too wide or shifted by one is not a miss);
- inpainting with the *true* mask (grown by 1 px, as at inference): PSNR inside the mask against
  the undamaged photograph, for the inpainter, for its parameter-free first stage alone (the
  push-pull fill) and for ``cv2.inpaint`` (Telea, radius 3) with the same mask on the same scan;
- the whole chain (detected mask -> inpainting): PSNR of the whole image against the undamaged
  photograph for the damaged scan, Telea on the detected mask and the inpainter on it;
- speed on one synthetic ``--speed-mp`` MP scan: detection, inpainting, Telea (MP/s, same run).

    .venv/bin/python bench/damage.py ../shared/data/eval/cbsd68 [--json out.json] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gan_engine.data.pairs import decode_image, list_images  # noqa: E402
from gan_engine.data.damage import DamageConfig, damage_example, grow_mask  # noqa: E402
from gan_engine.archs.damage import push_pull_fill  # noqa: E402
from gan_engine.inference.damage import DamageRepairer, detect, inpaint  # noqa: E402


def telea(rgb: np.ndarray, mask: np.ndarray, radius: int = 3) -> np.ndarray:
    """cv2.inpaint (Telea) of an (H, W, 3) float32 [0, 1] image on 8 bits, masked pixels only."""
    u8 = (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
    out = cv2.inpaint(u8, (mask > 0.5).astype(np.uint8), radius, cv2.INPAINT_TELEA).astype(np.float32) / 255
    return np.where(mask[..., None] > 0.5, out, rgb)


def push_pull(rgb: np.ndarray, mask: np.ndarray, multiple: int = 8) -> np.ndarray:
    """The inpainter's first stage alone, on the whole image (reflect-padded to ``multiple``)."""
    h, w = mask.shape
    ph, pw = (-h) % multiple, (-w) % multiple
    x = torch.nn.functional.pad(torch.from_numpy(rgb).permute(2, 0, 1)[None], (0, pw, 0, ph), mode="reflect")
    m = torch.nn.functional.pad(torch.from_numpy(mask)[None, None], (0, pw, 0, ph), mode="reflect")
    return push_pull_fill(x * (1 - m), m)[0, :, :h, :w].permute(1, 2, 0).numpy()


def psnr(se: float, n: float) -> float:
    return 10 * math.log10(1.0 / max(se / max(n, 1.0), 1e-12))


def prf(tp_p: float, pred: float, tp_t: float, true: float) -> dict[str, float]:
    """Precision = right predictions / predictions, recall = found truths / truths, F1."""
    p = tp_p / max(pred, 1.0)
    r = tp_t / max(true, 1.0)
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / max(p + r, 1e-12), 4)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--detector", default=None)
    ap.add_argument("--inpainter", default=None)
    ap.add_argument("--seed", type=int, default=100_000)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--grow", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--speed-mp", type=float, default=4.0)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rep = DamageRepairer(args.detector, args.inpainter, threshold=args.threshold, grow=args.grow)
    cfg = DamageConfig()

    paths = [p for f in args.folders for p in list_images(f)]
    if args.limit:
        paths = paths[:args.limit]
    det = {"strict": [0.0, 0.0, 0.0, 0.0], "tol1": [0.0, 0.0, 0.0, 0.0]}
    se = {"model_true_mask": 0.0, "telea_true_mask": 0.0, "scan_true_mask": 0.0, "push_pull_true_mask": 0.0,
          "scan": 0.0, "telea_detected": 0.0, "model_detected": 0.0}
    n_mask = n_all = 0.0
    cross = np.ones((3, 3), np.uint8)
    for i, path in enumerate(paths):
        clean = decode_image(path).astype(np.float32) / 255.0
        scan, base, mask = damage_example(clean, args.seed + i, cfg)
        # detection
        pred = detect(rep.detector, scan) > args.threshold
        true = mask > 0.5
        near_true = cv2.dilate(true.astype(np.uint8), cross).astype(bool)
        near_pred = cv2.dilate(pred.astype(np.uint8), cross).astype(bool)
        for key, a, b in (("strict", pred & true, true & pred), ("tol1", pred & near_true, true & near_pred)):
            det[key][0] += a.sum(); det[key][1] += pred.sum(); det[key][2] += b.sum(); det[key][3] += true.sum()
        # inpainting on the true mask
        hole = grow_mask(mask, args.grow)
        h3 = hole[..., None]
        for key, out in (("model_true_mask", inpaint(rep.inpainter, scan, hole)),
                         ("telea_true_mask", telea(scan, hole)), ("scan_true_mask", scan),
                         ("push_pull_true_mask", push_pull(scan, hole))):
            se[key] += float((((out - base) ** 2) * h3).sum())
        n_mask += float(hole.sum()) * 3
        # the whole chain on the detected mask
        dmask = grow_mask(pred.astype(np.float32), args.grow)
        for key, out in (("scan", scan), ("telea_detected", telea(scan, dmask)),
                         ("model_detected", inpaint(rep.inpainter, scan, dmask))):
            se[key] += float(((out - base) ** 2).sum())
        n_all += base.size
    result = {
        "images": len(paths), "folders": args.folders, "seed": args.seed, "threshold": args.threshold,
        "grow": args.grow, "threads": args.threads,
        "mask_fraction": round(det["strict"][3] / max(n_all / 3, 1), 4),
        "detection_strict": prf(*det["strict"]),
        "detection_tolerance_1px": prf(*det["tol1"]),
        "psnr_in_true_mask": {"damaged": round(psnr(se["scan_true_mask"], n_mask), 2),
                              "telea": round(psnr(se["telea_true_mask"], n_mask), 2),
                              "push_pull": round(psnr(se["push_pull_true_mask"], n_mask), 2),
                              "model": round(psnr(se["model_true_mask"], n_mask), 2)},
        "psnr_whole_image_detected_mask": {"damaged": round(psnr(se["scan"], n_all), 2),
                                           "telea": round(psnr(se["telea_detected"], n_all), 2),
                                           "model": round(psnr(se["model_detected"], n_all), 2)},
    }

    # speed on one larger scan (a tiled photograph of the first image, damaged)
    side = int(math.sqrt(args.speed_mp * 1e6))
    big = cv2.resize(decode_image(paths[0]), (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    scan, _, _ = damage_example(big, args.seed, cfg)
    mp = side * side / 1e6
    t0 = time.perf_counter()
    prob = detect(rep.detector, scan, tile=rep.tile)
    t1 = time.perf_counter()
    dmask = grow_mask((prob > args.threshold).astype(np.float32), args.grow)
    inpaint(rep.inpainter, scan, dmask, tile=rep.tile)
    t2 = time.perf_counter()
    telea(scan, dmask)
    t3 = time.perf_counter()
    result["speed"] = {"image_mp": round(mp, 2), "mask_fraction": round(float(dmask.mean()), 4),
                       "detect_mp_s": round(mp / (t1 - t0), 3), "inpaint_mp_s": round(mp / (t2 - t1), 3),
                       "detect_plus_inpaint_mp_s": round(mp / (t2 - t0), 3), "telea_mp_s": round(mp / (t3 - t2), 3)}

    print(f"{len(paths)} images, damage covers {100 * result['mask_fraction']:.1f}% of the pixels")
    for key in ("detection_strict", "detection_tolerance_1px"):
        r = result[key]
        print(f"{key:26s} precision {r['precision']:.3f}  recall {r['recall']:.3f}  F1 {r['f1']:.3f}")
    for key in ("psnr_in_true_mask", "psnr_whole_image_detected_mask"):
        r = result[key]
        extra = f"  push-pull {r['push_pull']:.2f}" if "push_pull" in r else ""
        print(f"{key:32s} damaged {r['damaged']:.2f}  Telea {r['telea']:.2f}{extra}  model {r['model']:.2f} dB")
    s = result["speed"]
    print(f"speed on {s['image_mp']} MP ({args.threads} threads, mask {100 * s['mask_fraction']:.1f}%): detect "
          f"{s['detect_mp_s']} MP/s, inpaint {s['inpaint_mp_s']} MP/s, both {s['detect_plus_inpaint_mp_s']} MP/s, "
          f"Telea {s['telea_mp_s']} MP/s")
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
