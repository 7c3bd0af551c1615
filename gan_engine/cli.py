"""Command line: ``python -m gan_engine {restore,degrade,style,train,evaluate,contact-sheet} ...``.

The CLI only parses arguments and calls library functions. Expected failures, the library's
own errors (:class:`~gan_engine.errors.GanEngineError`: a missing file, a file that is not an
image, unreadable weights, an unknown device, a value out of range), print one line on stderr
and exit with status 2. Anything else is a bug and propagates with its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
from pathlib import Path

from gan_engine.errors import GanEngineError

EXIT_USAGE = 2

#: The environment variable naming a torchvision VGG19 state dict for the feature network (style
#: optimize, perceptual training losses, style scores). Read here only and passed on explicitly.
VGG19_WEIGHTS_ENV = "GAN_VGG19_WEIGHTS"


def _feature_weights() -> str | None:
    """The VGG19 weights named by ``GAN_VGG19_WEIGHTS``, or None (the seeded random network)."""
    return os.environ.get(VGG19_WEIGHTS_ENV) or None


class CLIError(GanEngineError):
    """An expected failure, reported as one line on stderr."""


def _json_arg(text: str, flag: str):
    """The value of a JSON option; CLIError naming the option when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CLIError(f"{flag} is not valid JSON: {exc}") from None


def _make_dir(path: str | Path) -> Path:
    """Create an output folder (and its parents); CLIError when the file system refuses."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create the folder {path}: {exc.strerror or exc}") from None
    return path


def _check_inputs(paths) -> list[Path]:
    out = []
    for p in map(Path, paths):
        if not p.exists():
            raise CLIError(f"no such file: {p}")
        if p.is_dir():
            raise CLIError(f"is a directory, not an image: {p}")
        out.append(p)
    return out


def _weights(args, default: Path) -> Path:
    """--weights or the task's shipped file; an unknown device or a missing file fails here,
    before the (slower) model loading."""
    from gan_engine.devices import resolve_device

    resolve_device(args.device)
    weights = Path(args.weights) if args.weights else default
    if not weights.exists():
        raise CLIError(f"no such weights file: {weights}")
    return weights


def _open_restorer(args):
    from gan_engine.inference.wrappers import DEFAULT_WEIGHTS, Restorer

    repair = getattr(args, "repair_damage", False)
    detector, inpainter = getattr(args, "detector", None), getattr(args, "inpainter", None)
    for flag, path in (("--detector", detector), ("--inpainter", inpainter)):
        if path is not None and not Path(path).exists():
            raise CLIError(f"no such weights file: {path} ({flag})")
    return Restorer(_weights(args, DEFAULT_WEIGHTS), device=args.device, half=getattr(args, "half", False),
                    repair_damage=repair, detector=detector, inpainter=inpainter)


def _open_upscaler(args):
    from gan_engine.inference.wrappers import Upscaler, default_weights

    weights = _weights(args, default_weights("upscale", scale=args.scale, variant=args.variant))
    up = Upscaler(weights, device=args.device, half=getattr(args, "half", False))
    if up.scale != args.scale:
        raise CLIError(f"{weights} upscales x{up.scale}, not x{args.scale}")
    return up


def _open_colorizer(args):
    from gan_engine.inference.wrappers import Colorizer, default_weights

    return Colorizer(_weights(args, default_weights("colorize")), device=args.device,
                     half=getattr(args, "half", False))


def _each_file(args, process) -> int:
    """process(input path, DIR/<stem>.png) for every input, printing each output path."""
    inputs = _check_inputs(args.inputs)
    out_dir = _make_dir(args.out)
    for path in inputs:
        target = out_dir / f"{path.stem}.png"
        process(path, target)
        print(target)
    return 0


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


def cmd_convert_mobilenet(args) -> int:
    """The coral TFLite MobileNetV2 -> float safetensors (once; training reads the result)."""
    from safetensors.torch import save_file

    from gan_engine.pretrained import mobilenet

    src = _check_inputs([args.tflite])[0]
    state = mobilenet.convert(src)
    out = Path(args.out)
    _make_dir(out.parent)
    save_file({k: v.contiguous() for k, v in state.items()}, str(out),
              metadata={"source": mobilenet.SOURCE["from"], "licence": mobilenet.SOURCE["licence"]})
    print(out)
    return 0


def cmd_train_colorizer(args) -> int:
    """Train the semantic colorizer (resumable in --run-dir), then ship it to --out."""
    import torch

    from gan_engine.training import colorizer_train as ct

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = ct.ColorizerTrainConfig(data=tuple(args.data), val=tuple(args.val), mobilenet=args.mobilenet,
                                  run_dir=args.run_dir, steps=args.steps, batch=args.batch,
                                  crops_per_image=args.crops_per_image, seed=args.seed)
    ct.train_colorizer(cfg)
    if args.out:
        print(ct.export_colorizer(args.run_dir, args.out, card={"command": " ".join(["python -m gan_engine", *args.argv])}))
    return 0


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


def cmd_train_damage(args) -> int:
    """Train the damage detector and inpainter (resumable in --out); --ship copies them with cards."""
    from gan_engine.training import damage

    cfg = damage.DamageTrainConfig(data=tuple(args.data), out=args.out, steps=args.steps, batch=args.batch,
                                   crop=args.crop, lr=args.lr, seed=args.seed, threads=args.threads,
                                   save_every=args.save_every, time_limit=args.time_limit,
                                   command=" ".join(["python -m gan_engine", *(args.argv or sys.argv[1:])]))
    damage.train_damage(cfg)
    if args.ship:
        for path in damage.export_checkpoints(args.out, args.ship, prefix="damage_"):
            print(path)
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


def _check_reference(args) -> Path | None:
    """--reference as a Path: required by every style method but feedforward (baked into its weights)."""
    if args.reference is None:
        if getattr(args, "method", "feedforward") != "feedforward":
            raise CLIError(f"--method {args.method} needs --reference PATH (the style image)")
        return None
    path = Path(args.reference)
    if not path.exists():
        raise CLIError(f"no such reference image: {path}")
    if path.is_dir():
        raise CLIError(f"the reference is a directory, not an image: {path}")
    return path


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


def _open_for_task(args):
    """The model that ``args.task`` names: the upscaler, the colorizer, or (default) the restorer."""
    openers = {"upscale": _open_upscaler, "colorize": _open_colorizer}
    return openers.get(args.task, _open_restorer)(args)


def _train_overrides(args, names) -> dict:
    """The config fields given on the command line (+ the JSON generator/discriminator configs)."""
    overrides = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    if args.generator_config:
        overrides["generator_config"] = _json_arg(args.generator_config, "--generator-config")
    if args.discriminator_config:
        overrides["discriminator_config"] = _json_arg(args.discriminator_config, "--discriminator-config")
    return overrides


def _log_to_run_folder(out: str) -> None:
    """Training logs also go to OUT/train.log."""
    _make_dir(out)
    handler = logging.FileHandler(Path(out) / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)


def _train_style(args) -> int:
    from gan_engine.training.style import StyleTrainConfig, train_feedforward

    ref_path = Path(args.reference) if args.reference else None
    if ref_path is None:
        raise CLIError("train --task style needs --reference PATH (the style image)")
    if not ref_path.is_file():
        raise CLIError(f"no such reference image: {ref_path}")
    for d in args.data:
        if not Path(d).exists():
            raise CLIError(f"no such folder: {d}")
    overrides = _train_overrides(args, ("steps", "batch", "crop", "seed", "lr", "alpha", "adversarial",
                                        "adv_start", "generator", "time_limit_s", "threads", "max_side"))
    config = StyleTrainConfig(reference=str(ref_path), data=tuple(args.data), out=args.out, device=args.device,
                              progress=not args.no_progress, feature_weights=_feature_weights(),
                              command="python -m gan_engine " + shlex.join(args.argv), **overrides)
    _log_to_run_folder(args.out)
    print(train_feedforward(config))
    return 0


def cmd_train(args) -> int:
    if args.task == "style":  # its own trainer (one reference, no aging pairs): not a TrainConfig
        return _train_style(args)
    from gan_engine.training.loop import TrainConfig, train

    for d in args.data + (args.val or []):
        if not Path(d).exists():
            raise CLIError(f"no such folder: {d}")
    overrides = _train_overrides(args, ("steps", "batch", "crop", "seed", "lr", "generator", "discriminator",
                                        "time_limit_s", "val_every", "adversarial", "alpha", "adv_start",
                                        "threads", "max_side", "scale", "feature_matching", "warmup_steps",
                                        "window"))
    if args.aging:
        overrides["aging"] = _json_arg(args.aging, "--aging")
    if getattr(args, "colour", None):
        overrides["colour"] = _json_arg(args.colour, "--colour")
    config = TrainConfig(task=args.task, data=tuple(args.data), out=args.out, val=tuple(args.val or ()),
                         resume=args.resume, init=args.init, device=args.device,
                         progress=not args.no_progress, feature_weights=_feature_weights(),
                         command="python -m gan_engine " + shlex.join(args.argv), **overrides)
    _log_to_run_folder(args.out)
    print(train(config))
    return 0


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


def _device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")


def _weights_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", help="generator checkpoint (.safetensors); default: the task's shipped model")
    p.add_argument("--tile", type=int, default=512, help="tile side in pixels (default: 512)")
    _device_arg(p)
    p.add_argument("--half", action="store_true", help="float16 inference on CUDA")


def _damage_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repair-damage", action="store_true", help="restore: detect scratches, cracks, dust and "
                   "tears and inpaint them before the model (contact-sheet: before | mask | after)")
    p.add_argument("--detector", help="damage detector checkpoint; default: the shipped damage_detector")
    p.add_argument("--inpainter", help="damage inpainter checkpoint; default: the shipped damage_inpainter")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gan_engine",
                                     description="Restoration of aged photographs (gan_engine).")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

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

    p = sub.add_parser("train", help="train a model")
    p.add_argument("--reference", metavar="PATH", help="the style image (--task style)")
    p.add_argument("--task", default="restore", choices=["restore", "upscale", "colorize", "style"],
                   help="what to train")
    p.add_argument("--scale", type=int, choices=[2, 4], help="upscale: super-resolution factor (default 4)")
    p.add_argument("--colour", help="colorize: ColourConfig overrides as JSON")
    p.add_argument("--feature-matching", dest="feature_matching", type=float, help="feature matching weight")
    p.add_argument("--warmup-steps", dest="warmup_steps", type=int, help="linear learning-rate warm-up steps")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR", help="training folders of clean images")
    p.add_argument("--out", required=True, metavar="DIR", help="run folder")
    p.add_argument("--val", nargs="+", metavar="DIR", help="validation folders (default: hold out images)")
    p.add_argument("--steps", type=int, help="total steps")
    p.add_argument("--batch", type=int, help="crops per step")
    p.add_argument("--crop", type=int, help="crop side in pixels")
    p.add_argument("--window", type=int, help="restore, two-stage generator: the U-Net's window of each crop (px)")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--lr", type=float, help="peak learning rate of G")
    p.add_argument("--alpha", type=float, help="content loss weight")
    p.add_argument("--adversarial", type=float, help="adversarial loss weight")
    p.add_argument("--adv-start", dest="adv_start", type=float, help="fraction of steps before the GAN phase")
    p.add_argument("--generator", help="generator name (networks.GENERATORS)")
    p.add_argument("--generator-config", help="generator keyword config as JSON")
    p.add_argument("--discriminator", help="discriminator name (networks.DISCRIMINATORS)")
    p.add_argument("--discriminator-config", help="discriminator keyword config as JSON")
    p.add_argument("--aging", help="AgingConfig overrides for the training pairs, as JSON (e.g. '{\"p_clean\": 0.3}')")
    p.add_argument("--val-every", dest="val_every", type=int, help="steps between validations")
    p.add_argument("--time-limit", dest="time_limit_s", type=float, help="stop after this many seconds")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--max-side", dest="max_side", type=int, help="long side of the cached training images")
    p.add_argument("--resume", metavar="CKPT", help="state.pt (or run folder) to resume from")
    p.add_argument("--init", metavar="WEIGHTS", help="generator weights to fine-tune from")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _device_arg(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("convert-mobilenet", help="convert the coral TFLite MobileNetV2 to float safetensors")
    p.add_argument("tflite", help="mobilenet_v2_1.0_224_quant.tflite")
    p.add_argument("--out", required=True, help="output .safetensors")
    p.set_defaults(func=cmd_convert_mobilenet)

    p = sub.add_parser("train-colorizer", help="train the semantic colorizer (frozen MobileNetV2 encoder)")
    p.add_argument("--data", nargs="+", required=True, help="colour training folders")
    p.add_argument("--val", nargs="+", required=True, help="validation folders (decoding is chosen on them)")
    p.add_argument("--mobilenet", required=True, help="converted MobileNetV2 (convert-mobilenet)")
    p.add_argument("--run-dir", required=True, help="run folder (feature cache, resumable state)")
    p.add_argument("--steps", type=int, default=900)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--crops-per-image", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--out", help="ship the trained model to this .safetensors (with its card)")
    p.set_defaults(func=cmd_train_colorizer)

    p = sub.add_parser("train-damage", help="train the damage detector and inpainter (synthetic damage)")
    p.add_argument("--data", nargs="+", required=True, help="training folders (clean photographs)")
    p.add_argument("--out", required=True, help="run folder (resumes from its state.pt)")
    p.add_argument("--steps", type=int, default=850)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=160)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: a shared machine)")
    p.add_argument("--save-every", type=int, default=50)
    p.add_argument("--time-limit", type=float, default=0.0, help="stop and save after this many seconds")
    p.add_argument("--ship", metavar="DIR", help="then write DIR/damage_detector and DIR/damage_inpainter")
    p.set_defaults(func=cmd_train_damage)

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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    # Training reports its progress in the log; the other commands stay quiet unless -v.
    level = logging.DEBUG if args.verbose else logging.INFO if args.command in ("train", "train-colorizer", "train-damage") else logging.WARNING
    logging.basicConfig(level=level,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except GanEngineError as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE
