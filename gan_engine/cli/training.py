"""Training commands: train (restore, upscale, colorize, style), convert-mobilenet, train-colorizer,
train-damage."""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

from gan_engine.cli.common import CLIError, _check_inputs, _device_arg, _feature_weights, _json_arg, _make_dir


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


def add_parsers(sub) -> None:
    """train, convert-mobilenet, train-colorizer, train-damage."""
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
