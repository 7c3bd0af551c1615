"""Inference commands: restore, upscale, colorize, style, and degrade (synthetic aging)."""

from __future__ import annotations

import sys
from pathlib import Path

from gan_engine.cli.common import (
    CLIError, _check_inputs, _check_reference, _damage_args, _device_arg, _each_file, _feature_weights,
    _make_dir, _open_colorizer, _open_restorer, _open_upscaler, _weights_args,
)


def cmd_restore(args) -> int:
    _check_inputs(args.inputs)
    if args.mask_out and not args.repair_damage:
        raise CLIError("--mask-out needs --repair-damage (the mask is what the damage stage repainted)")
    restorer = _open_restorer(args)
    mask_dir = Path(args.mask_out) if args.mask_out else None
    if mask_dir is not None:
        _make_dir(mask_dir)

    def process(src: Path, dst: Path) -> Path:
        mask = mask_dir / f"{src.stem}_mask.png" if mask_dir is not None else None
        out = restorer.restore_file(src, dst, tile=args.tile, mask_out=mask)
        if mask is not None:
            print(mask)
        return out

    return _each_file(args, process)


def cmd_upscale(args) -> int:
    _check_inputs(args.inputs)  # a missing input fails before the model loads
    upscaler = _open_upscaler(args)
    return _each_file(args, lambda src, dst: upscaler.upscale_file(src, dst, tile=args.tile))


def cmd_colorize(args) -> int:
    if not 0.0 <= args.strength <= 1.0:
        raise CLIError(f"--strength must be in [0, 1], got {args.strength}")
    _check_inputs(args.inputs)
    reference = None
    if args.reference is not None:
        reference = _check_inputs([args.reference])[0]
    colorizer = _open_colorizer(args)
    if reference is not None and not colorizer.takes_reference:
        raise CLIError(f"{colorizer.weights} cannot colour from a reference (not a semantic colorizer)")
    return _each_file(args, lambda src, dst: colorizer.colorize_file(src, dst, tile=args.tile,
                                                                     strength=args.strength,
                                                                     reference=reference))


def cmd_style(args) -> int:
    from gan_engine.devices import resolve_device
    from gan_engine.cards import sha256_file
    from gan_engine.data.imageio import load_rgb
    from gan_engine.inference import style

    inputs = _check_inputs(args.inputs)
    ref_path = _check_reference(args)
    device = resolve_device(args.device)
    stylizer = None
    if args.method == "feedforward":
        weights = Path(args.weights) if args.weights else style.DEFAULT_WEIGHTS
        if not weights.exists():
            raise CLIError(f"no such weights file: {weights}")
        stylizer = style.Stylizer(weights, device=str(device), tile=args.tile)
        baked = stylizer.reference.get("sha256")
        if ref_path is not None and baked and sha256_file(ref_path) != baked:
            print(f"warning: {weights.name} was trained for {stylizer.reference.get('file')}; --reference is ignored"
                  " by --method feedforward", file=sys.stderr)
    reference = load_rgb(ref_path) if ref_path is not None and stylizer is None else None
    config = None
    if args.method == "optimize":
        steps = {} if args.steps is None else {"steps": args.steps}
        config = style.StyleOptimizeConfig(device=str(device), progress=not args.no_progress,
                                           feature_weights=_feature_weights(), **steps)
    out_dir = _make_dir(args.out)
    for path in inputs:
        target = out_dir / f"{path.stem}.png"
        style.stylize_file(path, target, method=args.method, reference=reference, stylizer=stylizer, config=config,
                           strength=args.strength, tile=args.tile, device=str(device))
        print(target)
    return 0


def cmd_degrade(args) -> int:
    from gan_engine.data import imageio
    from gan_engine.data.degradations import pipeline

    inputs = _check_inputs(args.inputs)
    out_dir = _make_dir(args.out)
    for i, path in enumerate(inputs):
        loaded = imageio.load_image(path)
        if args.gray is None:
            aged, _record = pipeline.age_image(loaded.rgb, args.seed + i)
        else:
            aged = pipeline.degrade_for_eval(loaded.rgb, args.seed + i, args.gray)
        target = out_dir / f"{path.stem}.png"
        imageio.save_image(target, aged, bit_depth=loaded.bit_depth, alpha=loaded.alpha)
        print(target)
    return 0


def add_parsers(sub) -> None:
    """restore, upscale, colorize, degrade, style (in the order of ``--help``)."""
    p = sub.add_parser("restore", help="restore image files into DIR/<stem>.png")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    _damage_args(p)
    p.add_argument("--mask-out", metavar="DIR", help="with --repair-damage: write each repainted-pixel mask "
                   "as DIR/<stem>_mask.png (grey, 255 = repainted)")
    _weights_args(p)
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("upscale", help="super-resolve image files x2 or x4 into DIR/<stem>.png")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--scale", type=int, default=4, choices=[2, 4], help="factor (default 4)")
    p.add_argument("--variant", default="faithful", choices=["faithful", "gan"],
                   help="faithful (L1-trained, the default: fidelity) or gan (sharper, invents texture)")
    _weights_args(p)
    p.set_defaults(func=cmd_upscale)

    p = sub.add_parser("colorize", help="colourise image files (CIE L kept) into DIR/<stem>.png")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files (a colour file is re-coloured from its L)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--strength", type=float, default=1.0, help="chroma scale in [0, 1] (default 1)")
    p.add_argument("--reference", metavar="REF", help="a colour photograph whose colours are carried over "
                   "region by region (same place, person, object or period; any framing, scale or mirroring)")
    _weights_args(p)
    p.set_defaults(func=cmd_colorize)

    p = sub.add_parser("degrade", help="age image files synthetically into DIR/<stem>.png")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--seed", type=int, default=0, help="seed of the first image (+1 per image)")
    p.add_argument("--gray", type=lambda s: s.lower() in ("1", "true", "yes"), default=None,
                   help="force (true) or forbid (false) black-and-white prints (evaluation aging)")
    p.set_defaults(func=cmd_degrade)

    p = sub.add_parser("style", help="give image files the style of a reference into DIR/<stem>.png")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files")
    p.add_argument("--reference", metavar="PATH", help="the style image (color, optimize; feedforward: baked in)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--method", default="color", choices=["color", "optimize", "feedforward"],
                   help="color: Lab statistics (fast); optimize: Gatys; feedforward: trained model (default: color)")
    p.add_argument("--weights", help="feedforward checkpoint (default: the shipped style model)")
    p.add_argument("--steps", type=int, help="optimisation steps for --method optimize (default: 200)")
    p.add_argument("--strength", type=float, default=1.0, help="blend with the input, 0..1 (default: 1)")
    p.add_argument("--tile", type=int, default=512, help="tile side for --method feedforward (default: 512)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _device_arg(p)
    p.set_defaults(func=cmd_style)
