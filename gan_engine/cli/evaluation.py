"""Evaluation commands: evaluate (benchmarks and style scores, optionally into the model card)
and contact-sheet (before/after PNGs)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from gan_engine.cli.common import (
    CLIError, _check_inputs, _check_reference, _damage_args, _feature_weights, _make_dir, _open_for_task,
    _weights_args,
)


def _evaluate_style(args) -> int:
    from gan_engine.evaluation.style import evaluate_style, format_table
    from gan_engine.inference.style import DEFAULT_WEIGHTS, StyleOptimizeConfig

    for d in args.data:
        if not Path(d).is_dir():
            raise CLIError(f"no such folder: {d}")
    ref_path = _check_reference(args)
    weights = None
    if args.method == "feedforward":
        weights = Path(args.weights) if args.weights else DEFAULT_WEIGHTS
        if not weights.exists():
            raise CLIError(f"no such weights file: {weights}")
    config = None
    if args.method == "optimize":
        steps = {} if args.steps is None else {"steps": args.steps}
        config = StyleOptimizeConfig(device=args.device, progress=False, feature_weights=_feature_weights(), **steps)
    results = [evaluate_style(folder, ref_path, method=args.method, weights=weights, config=config,
                              limit=args.limit, device=args.device, progress=not args.no_progress,
                              feature_weights=_feature_weights())
               for folder in args.data]
    print(format_table(results))
    summary = [{k: v for k, v in r.items() if k != "per_image"} for r in results]
    print(json.dumps(summary if len(summary) > 1 else summary[0], indent=2))
    if args.json:
        _make_dir(Path(args.json).parent)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


def cmd_evaluate(args) -> int:
    if args.task == "style":  # style and content losses, not PSNR against a clean original
        return _evaluate_style(args)
    from gan_engine.evaluation import benchmarks

    for d in args.data:
        if not Path(d).is_dir():
            raise CLIError(f"no such folder: {d}")
    restorer = _open_for_task(args)

    def restore(img):
        return restorer(img, tile=args.tile)

    results = []
    for folder in args.data:
        if args.task == "upscale":
            results.append(benchmarks.evaluate_upscale(restore, folder, scale=args.scale, limit=args.limit))
        elif args.task == "colorize":
            results.append(benchmarks.evaluate_colorize(restore, folder, limit=args.limit))
        elif args.task == "restore":
            results.append(benchmarks.evaluate_restore(restore, folder, seed=args.seed, limit=args.limit,
                                                       progress=not args.no_progress))
        else:
            results.append(benchmarks.evaluate_denoise(restore, folder, sigma=args.sigma, seed=args.seed,
                                                       limit=args.limit))
    print(benchmarks.format_table(results))
    summary = [{k: v for k, v in r.items() if k != "per_image"} for r in results]
    print(json.dumps(summary if len(summary) > 1 else summary[0], indent=2))
    if args.json:
        _make_dir(Path(args.json).parent)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    if args.update_card:
        benchmarks.record_in_card(restorer.weights, results,
                                  command="python -m gan_engine " + shlex.join(args.argv))
    return 0


def cmd_contact_sheet(args) -> int:
    """Before/after pairs: restore (input | restored), colorize (grey | colourised), upscale
    (bicubic | model at the same output size; ``--crop`` cuts a centre region of the input first,
    so that the pixels are visible at the sheet's row height)."""
    from gan_engine.data import imageio, resampling
    from gan_engine.evaluation import benchmarks

    inputs = _check_inputs(args.inputs)
    model = _open_for_task(args)
    pairs = []
    for path in inputs:
        rgb = imageio.load_image(path).rgb
        if args.crop:
            h, w = rgb.shape[:2]
            c = min(args.crop, h, w)
            rgb = rgb[(h - c) // 2:(h - c) // 2 + c, (w - c) // 2:(w - c) // 2 + c]
        if args.task == "upscale":
            before = resampling.bicubic_upscale(rgb, model.scale)
        elif args.task == "colorize":
            from gan_engine.training.colorization import gray_of
            before = gray_of(rgb)
        else:
            before = rgb
        if args.task == "restore" and model.damage is not None:  # before | mask | after
            after, mask = model.restore_with_mask(rgb, tile=args.tile)
            pairs.append((path.stem, before, mask, after))
            continue
        pairs.append((path.stem, before, model(before if args.task == "colorize" else rgb, tile=args.tile)))
    titles = ("before", "mask", "after") if len(pairs[0]) == 4 else ("before", "after")
    print(benchmarks.contact_sheet(pairs, args.out, height=args.height, columns=args.columns, titles=titles))
    return 0


def add_parsers(sub) -> None:
    """evaluate, contact-sheet."""
    p = sub.add_parser("evaluate", help="PSNR/SSIM of a model vs the aged input and the classical baseline")
    p.add_argument("--task", default="restore", choices=["restore", "denoise", "upscale", "colorize", "style"],
                   help="restore: fixed-seed aging; denoise: grey Gaussian noise (DnCNN protocol);"
                        " upscale: bicubic-shrunk copies, PSNR on Y as the SR tables;"
                        " colorize: grey copies against the colour originals;"
                        " style: style/content losses before and after")
    p.add_argument("--scale", type=int, default=4, choices=[2, 4], help="--task upscale: factor (default 4)")
    p.add_argument("--variant", default="faithful", choices=["faithful", "gan"],
                   help="--task upscale: shipped weights variant (default faithful)")
    p.add_argument("--reference", metavar="PATH", help="the style image (--task style)")
    p.add_argument("--method", default="color", choices=["color", "optimize", "feedforward"],
                   help="style method for --task style (default: color)")
    p.add_argument("--steps", type=int, help="optimisation steps for --task style --method optimize")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR", help="folders of clean images")
    p.add_argument("--seed", type=int, default=0, help="aging / noise seed (default: 0)")
    p.add_argument("--sigma", type=float, default=25.0, help="noise sigma (of 255) for --task denoise")
    p.add_argument("--limit", type=int, help="only the first N images of each folder")
    p.add_argument("--json", metavar="PATH", help="also write the full results (per image) as JSON")
    p.add_argument("--update-card", action="store_true",
                   help="record the summaries in the model card beside the weights")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _weights_args(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("contact-sheet", help="before/after PNG of restored, colourised or upscaled images")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files")
    p.add_argument("--task", default="restore", choices=["restore", "colorize", "upscale"],
                   help="restore (default), colorize (grey copy | colourised) or upscale (bicubic | model)")
    p.add_argument("--scale", type=int, default=4, choices=[2, 4], help="--task upscale: factor")
    p.add_argument("--variant", default="faithful", choices=["faithful", "gan"], help="--task upscale: weights")
    p.add_argument("--crop", type=int, help="centre crop of each input (px) before processing")
    p.add_argument("--out", required=True, metavar="PNG", help="output PNG")
    p.add_argument("--height", type=int, default=320, help="row height in pixels")
    p.add_argument("--columns", type=int, default=2, help="pairs per row")
    _damage_args(p)
    _weights_args(p)
    p.set_defaults(func=cmd_contact_sheet)
