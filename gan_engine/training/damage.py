"""Training the damage detector and the mask-conditioned inpainter on synthetic damage.

Labels are free: every example is a clean training crop, aged (``data.degradations`` without its own
dust/scratches/cracks), damaged by :func:`gan_engine.data.damage.damage_example` with its mask,
and scanned (blur, noise, JPEG). One process trains both networks, one step of each in turn, on
the same batches:

- detector: scan -> mask logits; loss = BCE (positive weight ``pos_weight``: damage is a few % of
  the pixels) + ``dice`` x soft Dice (keeps thin scratches from being ignored);
- inpainter: (base with the grown mask zeroed, grown mask) -> base; loss = L1 inside the mask
  (mean over masked pixels) + ``grad`` x L1 of the horizontal/vertical differences there (sharper
  fills than L1 alone). It learns from the true mask, grown by ``grow`` px as at inference.

Resumable: ``state.pt`` in the run folder (both networks, both optimizers, step, numpy and torch
RNG states, elapsed time, every command) is written every ``save_every`` steps and at the end;
starting again with the same ``out`` resumes. ``metrics.jsonl`` holds the running losses and the
validation figures (F1, masked PSNR) of a fixed held-out set (the last ``val_per_folder`` images
of each training folder, never ``eval/``).
"""

from __future__ import annotations

import json
import logging
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gan_engine import checkpoints
from gan_engine.archs.damage import DETECTOR_CONFIG, INPAINTER_CONFIG, build_detector, build_inpainter, fill
from gan_engine.data.pairs import ImagePool, decode_image, list_images, random_crop
from gan_engine.data.damage import DamageConfig, damage_example, grow_mask
from gan_engine.errors import InvalidInputError

log = logging.getLogger(__name__)

STATE_FILE = "state.pt"


@dataclass(frozen=True)
class DamageTrainConfig:
    data: tuple[str, ...]  # training folders, each sampled equally often
    out: str  # run folder: state.pt, metrics.jsonl, detector/inpainter checkpoints
    steps: int = 3000  # steps of each network
    batch: int = 8  # crops per step
    crop: int = 160  # crop side (px); a multiple of 8
    scale_range: tuple[float, float] = (0.4, 1.0)  # crops cover crop/s source pixels, s in this range
    max_side: int = 512  # cached images are shrunk to this long side
    lr: float = 2e-3  # Adam peak learning rate (both networks)
    lr_final: float = 0.05  # cosine decay to lr * lr_final at the last step
    warmup: int = 100  # linear warm-up steps
    pos_weight: float = 3.0  # BCE weight of damaged pixels
    dice: float = 0.5  # weight of the soft Dice loss of the detector
    grad: float = 0.5  # weight of the gradient L1 of the inpainter
    grow: int = 1  # mask growth (px) before inpainting, as at inference
    val_per_folder: int = 4  # last images of each folder held out for validation
    val_crop: int = 192  # validation centre crop side
    seed: int = 0  # numpy and torch seed
    threads: int = 1  # torch intra-op threads (the machine is shared)
    save_every: int = 100  # steps between state saves and validations
    time_limit: float = 0.0  # stop (and save) after this many seconds of this session; 0: none
    command: str = ""  # the command line that started this session (for the card)
    damage: dict = field(default_factory=dict)  # DamageConfig overrides


def get_lr(step: int, config: DamageTrainConfig) -> float:
    """Linear warm-up, then cosine from ``lr`` to ``lr * lr_final`` at ``steps``."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    t = min(1.0, (step - config.warmup) / max(1, config.steps - config.warmup))
    return config.lr * (config.lr_final + (1 - config.lr_final) * 0.5 * (1 + math.cos(math.pi * t)))


def _nchw(a: np.ndarray) -> torch.Tensor:
    """(B, H, W, C) or (B, H, W) numpy -> (B, C, H, W) float32 tensor."""
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return (t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2)).contiguous(memory_format=torch.channels_last)


def make_batch(pools: list[ImagePool], size: int, crop: int, rng: np.random.Generator, config: DamageConfig,
               scale_range=(0.4, 1.0), grow: int = 1) -> dict[str, torch.Tensor]:
    """A batch of synthetic examples: scan, base (B, 3, crop, crop), mask and grown mask (B, 1, ...)."""
    scans, bases, masks = [], [], []
    for _ in range(size):
        pool = pools[int(rng.integers(0, len(pools)))]
        clean = random_crop(pool.images[int(rng.integers(0, len(pool.images)))], crop, rng, scale_range)
        scan, base, mask = damage_example(clean, rng, config)
        scans.append(scan), bases.append(base), masks.append(mask)
    masks = np.stack(masks)
    return {"scan": _nchw(np.stack(scans)), "base": _nchw(np.stack(bases)), "mask": _nchw(masks),
            "hole": _nchw(np.stack([grow_mask(m, grow) for m in masks]))}


def detector_loss(logits: torch.Tensor, mask: torch.Tensor, pos_weight: float, dice: float) -> torch.Tensor:
    """BCE with logits (damaged pixels weighted ``pos_weight``) + ``dice`` x (1 - soft Dice)."""
    bce = F.binary_cross_entropy_with_logits(logits, mask, pos_weight=torch.tensor(pos_weight))
    p = torch.sigmoid(logits)
    soft_dice = (2 * (p * mask).sum() + 1.0) / (p.sum() + mask.sum() + 1.0)
    return bce + dice * (1 - soft_dice)


def inpainter_loss(out: torch.Tensor, target: torch.Tensor, hole: torch.Tensor, grad: float) -> torch.Tensor:
    """L1 inside the hole (mean over hole pixels and channels) + ``grad`` x L1 of its finite differences."""
    n = hole.sum().clamp_min(1.0) * out.shape[1]
    l1 = ((out - target).abs() * hole).sum() / n
    if grad <= 0:
        return l1
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
    g = ((dx(out) - dx(target)).abs() * hole[..., :, 1:]).sum() + ((dy(out) - dy(target)).abs() * hole[..., 1:, :]).sum()
    return l1 + grad * g / n


def validation_set(paths: list[Path], size: int, seed: int, config: DamageConfig, max_side: int = 512):
    """Fixed examples: centre crops of ``paths``, image i damaged with seed ``seed + i``."""
    out = []
    for i, p in enumerate(paths):
        img = decode_image(p, max_side)
        h, w = img.shape[:2]
        s = min(size, h, w) // 8 * 8
        y, x = (h - s) // 2, (w - s) // 2
        clean = img[y:y + s, x:x + s].astype(np.float32) / 255.0
        out.append(damage_example(clean, seed + i, config))
    return out


@torch.inference_mode()
def validate(detector: torch.nn.Module, inpainter: torch.nn.Module, val_set, grow: int = 1) -> dict[str, float]:
    """Pixel precision/recall/F1 of the detector (sigmoid > 0.5) over the whole set, and the PSNR
    inside the (true, grown) mask of the inpainter's fill against the undamaged base."""
    detector.eval(), inpainter.eval()
    tp = fp = fn = 0.0
    se = n = 0.0
    for scan, base, mask in val_set:
        x = _nchw(scan[None])
        pred = (detector(x)[0, 0] > 0).numpy()
        m = mask > 0.5
        tp += float((pred & m).sum()); fp += float((pred & ~m).sum()); fn += float((~pred & m).sum())
        hole = grow_mask(mask, grow)
        out = fill(inpainter, _nchw(scan[None]), _nchw(hole[None]))[0].permute(1, 2, 0).numpy()
        se += float((((out - base) ** 2) * hole[..., None]).sum())
        n += float(hole.sum()) * 3
    detector.train(), inpainter.train()
    precision = tp / max(tp + fp, 1.0)
    recall = tp / max(tp + fn, 1.0)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"precision": precision, "recall": recall, "f1": f1,
            "psnr_in_mask": 10 * math.log10(1.0 / max(se / max(n, 1.0), 1e-12))}


def _card(config: DamageTrainConfig, task: str, *, step: int, elapsed_s: float, commands: list[str],
          losses: dict, val: dict | None) -> dict:
    return {
        "task": task,
        "torch_version": torch.__version__,
        "trained_on": {
            "folders": [str(Path(d).resolve()) for d in config.data],
            "held_out": f"last {config.val_per_folder} images of each folder (validation)",
            "examples": "gan_engine.data.damage.damage_example: age_image without dust/scratches/"
                        "cracks, then synthetic scratches, cracks (1-15 px, torn edges), dust, tears with "
                        "their mask, then blur/noise/JPEG; DamageConfig overrides: " + json.dumps(config.damage),
            "crop": config.crop, "batch": config.batch, "max_side": config.max_side,
            "scale_range": list(config.scale_range),
        },
        "command": config.command,
        "commands": commands,
        "train_config": asdict(config),
        "steps": step,
        "seed": config.seed,
        "elapsed_s": round(elapsed_s, 1),
        "machine": f"{platform.machine()} torch threads={config.threads}",
        "final_losses": {k: round(float(v), 6) for k, v in losses.items()},
        "validation": val,
    }


def train_damage(config: DamageTrainConfig) -> tuple[Path, Path]:
    """Train (or resume) both networks; -> (detector weights, inpainter weights) in ``out``."""
    torch.set_num_threads(config.threads)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    damage_cfg = DamageConfig(**config.damage)
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)

    pools = [ImagePool.load(d, max_side=config.max_side, exclude=config.val_per_folder, min_side=config.crop // 2)
             for d in config.data]
    pools = [p for p in pools if p.images]
    if not pools:
        raise InvalidInputError("no training images")
    val_paths = [p for d in config.data for p in list_images(d)[-config.val_per_folder:]] if config.val_per_folder else []
    val_set = validation_set(val_paths, config.val_crop, 1_000_000, damage_cfg, config.max_side)

    det = build_detector().to(memory_format=torch.channels_last)
    inp = build_inpainter().to(memory_format=torch.channels_last)
    opt_d = torch.optim.Adam(det.parameters(), lr=config.lr, betas=(0.9, 0.99))
    opt_i = torch.optim.Adam(inp.parameters(), lr=config.lr, betas=(0.9, 0.99))
    step, elapsed_before, commands = 0, 0.0, [config.command]
    losses = {"detector": float("nan"), "inpainter": float("nan")}
    if (out / STATE_FILE).is_file():
        state = checkpoints.load_training_state(out / STATE_FILE)
        det.load_state_dict(state["detector"]), inp.load_state_dict(state["inpainter"])
        opt_d.load_state_dict(state["opt_d"]), opt_i.load_state_dict(state["opt_i"])
        step, elapsed_before = int(state["step"]), float(state["elapsed_s"])
        commands = list(state["commands"]) + commands
        losses = dict(state.get("losses", losses))
        torch.set_rng_state(state["torch_rng"])
        rng.bit_generator.state = json.loads(state["numpy_rng"])
        log.info("resumed %s at step %d", out, step)

    t_start = time.time()
    val = None

    def elapsed() -> float:
        return elapsed_before + time.time() - t_start

    def save(final: bool) -> None:
        checkpoints.save_training_state(out / STATE_FILE, {
            "detector": det.state_dict(), "inpainter": inp.state_dict(), "opt_d": opt_d.state_dict(),
            "opt_i": opt_i.state_dict(), "step": step, "elapsed_s": elapsed(), "commands": commands,
            "losses": losses, "validation": val, "torch_rng": torch.get_rng_state(),
            "numpy_rng": json.dumps(rng.bit_generator.state), "config": json.dumps(asdict(config))})
        if final:
            export_checkpoints(out, out)

    det.train(), inp.train()
    with open(out / "metrics.jsonl", "a", encoding="utf-8") as metrics:
        while step < config.steps:
            lr = get_lr(step, config)
            for opt in (opt_d, opt_i):
                for g in opt.param_groups:
                    g["lr"] = lr
            b = make_batch(pools, config.batch, config.crop, rng, damage_cfg, config.scale_range, config.grow)
            loss_d = detector_loss(det(b["scan"]), b["mask"], config.pos_weight, config.dice)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            loss_i = inpainter_loss(fill(inp, b["base"], b["hole"]), b["base"], b["hole"], config.grad)
            opt_i.zero_grad(set_to_none=True)
            loss_i.backward()
            opt_i.step()
            step += 1
            for k, v in (("detector", loss_d.item()), ("inpainter", loss_i.item())):
                losses[k] = v if math.isnan(losses[k]) else 0.98 * losses[k] + 0.02 * v
            over = config.time_limit and time.time() - t_start > config.time_limit
            if step % config.save_every == 0 or step == config.steps or over:
                val = validate(det, inp, val_set, config.grow) if val_set else None
                row = {"step": step, "lr": lr, "elapsed_s": round(elapsed(), 1), **losses, **(val or {})}
                metrics.write(json.dumps(row) + "\n")
                metrics.flush()
                log.info("%s", row)
                save(final=step == config.steps or bool(over))
            if over:
                log.info("time limit reached at step %d", step)
                break
    return out / "detector.safetensors", out / "inpainter.safetensors"


def export_checkpoints(run: str | Path, dest: str | Path, *, prefix: str = "") -> tuple[Path, Path]:
    """Write the detector and inpainter of a run's ``state.pt`` as checkpoints with model cards:
    ``dest/{prefix}detector.safetensors`` and ``dest/{prefix}inpainter.safetensors`` (+ .json).
    Works on a run in progress (its last saved state)."""
    state = checkpoints.load_training_state(Path(run) / STATE_FILE)
    cfg = json.loads(state["config"])
    config = DamageTrainConfig(**{**cfg, "data": tuple(cfg["data"]), "scale_range": tuple(cfg["scale_range"])})
    paths = []
    for key, build, task in (("detector", build_detector, "damage-detect"), ("inpainter", build_inpainter, "inpaint")):
        model = build()
        model.load_state_dict(state[key])
        card = _card(config, task, step=int(state["step"]), elapsed_s=float(state["elapsed_s"]),
                     commands=list(state["commands"]), losses={key: state["losses"][key]}, val=state.get("validation"))
        paths.append(checkpoints.save_checkpoint(Path(dest) / f"{prefix}{key}.safetensors", model, card))
    return paths[0], paths[1]
