"""What the command families share: the CLI's error type, input and output checks, JSON options,
the model openers and the common arguments. The environment is read here and nowhere below the CLI.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from gan_engine.errors import GanEngineError

EXIT_USAGE = 2

#: The environment variable naming a torchvision VGG19 state dict for the feature network (style
#: optimize, perceptual training losses, style scores). Read here only and passed on explicitly.
VGG19_WEIGHTS_ENV = "GAN_VGG19_WEIGHTS"


class CLIError(GanEngineError):
    """An expected failure, reported as one line on stderr."""


def _feature_weights() -> str | None:
    """The VGG19 weights named by ``GAN_VGG19_WEIGHTS``, or None (the seeded random network)."""
    return os.environ.get(VGG19_WEIGHTS_ENV) or None


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


def _open_for_task(args):
    """The model that ``args.task`` names: the upscaler, the colorizer, or (default) the restorer."""
    openers = {"upscale": _open_upscaler, "colorize": _open_colorizer}
    return openers.get(args.task, _open_restorer)(args)


def _each_file(args, process) -> int:
    """process(input path, DIR/<stem>.png) for every input, printing each output path."""
    inputs = _check_inputs(args.inputs)
    out_dir = _make_dir(args.out)
    for path in inputs:
        target = out_dir / f"{path.stem}.png"
        process(path, target)
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
