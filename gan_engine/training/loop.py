"""Training loop of the restoration GAN (pix2pix-style conditional GAN with perceptual losses).

One flat, commented loop in the manner of nanoGPT, with the dcgan step inside it:

1. D on real pairs (condition = aged, image = clean) and on detached fakes;
2. G against D, plus the reconstruction losses: pixel L1 + alpha content + beta style + gamma TV
   (on ``features.FeatureNetwork``) + feature matching on D's features.

Recipe for a CPU budget: a warm-up phase on the reconstruction losses only, then the
adversarial terms with a small weight (the archive values fidelity over invented texture);
Adam with a linear warm-up and a cosine decay; an exponential moving average of G's weights
is what gets validated and shipped (it is smoother than the raw weights at no training cost).

``train(config) -> Path`` returns the best checkpoint (by validation PSNR). The run folder
holds ``last.safetensors`` / ``best.safetensors`` (+ their JSON model cards), ``state.pt``
(everything needed to resume: weights, optimizers, EMA, step, RNG states) and ``train.log``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_engine import archs, checkpoints
from gan_engine.data import pairs
from gan_engine.evaluation import metrics
from gan_engine.losses import perceptual
from gan_engine.losses.adversarial import d_adversarial_loss, feature_matching_loss, g_adversarial_loss
from gan_engine.training import tasks
from gan_engine.errors import InvalidInputError

log = logging.getLogger(__name__)

STATE_FILE = "state.pt"


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on (recorded in full in the model card)."""

    # --- data ---
    data: tuple[str, ...] = ()  # training folders (clean images); each is sampled equally often
    out: str = "runs/restore"  # run folder: checkpoints, state.pt, train.log
    val: tuple[str, ...] = ()  # validation folders; empty: hold out the last images of each data folder
    val_holdout: int = 4  # images held out from the end of each data folder when `val` is empty
    val_size: int = 192  # validation centre-crop side (px): small enough to validate in seconds
    val_seed: int = 12345  # seed of the fixed aged validation set (independent of `seed`)
    max_side: int = 512  # cached images are shrunk to this long side (RAM, and close to eval scale)
    scale_range: tuple[float, float] = (0.5, 1.0)  # random rescale of a crop's source region
    aging: dict = field(default_factory=dict)  # overrides of degradations.AgingConfig for training pairs
    # (e.g. {"p_clean": 0.3}: more nearly clean examples teach G to leave a good photo alone)
    crop: int = 112  # training crop side (px); a multiple of the generator's size_multiple
    window: int = 0  # restore with a global stage (GlobalUNet): the U-Net's window of the crop; 0: all of it
    batch: int = 12  # crops per step
    # --- models ---
    task: str = "restore"  # key of tasks.TASKS: restore | upscale | colorize
    scale: int = 4  # upscale only: the super-resolution factor (2 or 4)
    colour: dict = field(default_factory=dict)  # colorize only: overrides of colorization.ColourConfig
    generator: str | None = None  # key of archs.GENERATORS; None: the task's default
    generator_config: dict = field(default_factory=dict)  # keyword config of the generator (over the task's defaults)
    discriminator: str = "patchgan"  # key of archs.DISCRIMINATORS
    discriminator_config: dict = field(default_factory=lambda: {"ndf": 32})  # D config; ndf 32: a quarter of pix2pix's cost
    feature_weights: str | None = None  # torchvision VGG19 state dict; None: seeded random filters
    # --- optimisation ---
    steps: int = 3000  # total optimisation steps (the cosine schedule spans them)
    lr: float = 2e-4  # peak Adam learning rate of G (pix2pix / ESRGAN value)
    lr_d: float = 1e-4  # Adam learning rate of D (half of G's: D must not overpower a small G)
    lr_min_ratio: float = 0.05  # cosine floor, as a fraction of the peak rate
    warmup_steps: int = 100  # linear learning-rate warm-up (Adam's early steps are noisy)
    betas: tuple[float, float] = (0.9, 0.99)  # Adam betas (0.99: steadier than 0.999 for GANs)
    grad_clip: float = 1.0  # max gradient norm of G (guards against rare exploding batches)
    ema_decay: float = 0.999  # EMA of G's weights, validated and shipped; 0 disables
    identity_init: bool = True  # zero G's last conv so a residual-head G starts as the identity
    # --- losses ---
    l1: float = 1.0  # pixel L1 weight: the fidelity term
    alpha: float = 0.02  # content (perceptual) loss weight
    beta: float = 0.0  # style (Gram) loss weight; 0: restoration must not move textures
    gamma: float = 0.0  # total-variation weight; 0: L1 already smooths noise
    adversarial: float = 0.003  # G's adversarial weight after warm-up (small: fidelity first)
    feature_matching: float = 0.01  # feature matching on D's features after warm-up
    adv_kind: str = "lsgan"  # adversarial loss form (losses.adversarial.d_adversarial_loss `kind`)
    adv_start: float = 0.6  # fraction of the run (see `progress`) trained on reconstruction losses only
    # --- bookkeeping ---
    seed: int = 0  # seeds torch, the data sampler and the model initialisation
    threads: int = 2  # torch CPU threads (the machine has 2 cores)
    device: str = "cpu"  # "cpu" | "cuda" | "cuda:N" | "auto"
    log_every: int = 20  # steps between log lines
    val_every: int = 250  # steps between validations (and best-checkpoint updates)
    checkpoint_every_s: float = 600.0  # seconds between last.safetensors + state.pt saves
    time_limit_s: float | None = None  # time budget (s) of the whole run, resumes included; None: steps only.
    # With a budget, the run's progress is max(step / steps, elapsed / time_limit_s): the cosine
    # decay and the adversarial phase follow whichever ends first, so a run on a shared CPU
    # still anneals and reaches its GAN phase (at the cost of bit-exact reproducibility).
    resume: str | None = None  # state.pt (or its run folder) to resume from
    init: str | None = None  # generator weights (.safetensors) to fine-tune from
    command: str = ""  # the exact command line, for the model card
    progress: bool = True  # tqdm progress bar

    def __post_init__(self):
        if not self.data:
            raise InvalidInputError("TrainConfig.data: give at least one training folder")
        from gan_engine.training.tasks import TASKS
        if self.task not in TASKS:
            raise InvalidInputError(f"unknown task {self.task!r}; trained tasks: {', '.join(TASKS)}")
        if self.task == "upscale" and self.scale not in (2, 4):
            raise InvalidInputError(f"scale must be 2 or 4, not {self.scale}")
        if self.task == "upscale" and self.crop % self.scale:
            raise InvalidInputError(f"crop {self.crop} is not a multiple of the scale {self.scale}")
        if self.steps < 1 or self.batch < 1 or self.crop < 16:
            raise InvalidInputError("steps >= 1, batch >= 1 and crop >= 16 are required")


def get_lr(step: int, config: TrainConfig, peak: float, progress: float | None = None) -> float:
    """Learning rate at ``step``: linear warm-up, then cosine decay to ``lr_min_ratio * peak``.

    ``progress`` in [0, 1] overrides the step-based position in the cosine (time budgets).
    """
    if step < config.warmup_steps:
        return peak * (step + 1) / config.warmup_steps
    if progress is None:
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    floor = peak * config.lr_min_ratio
    return floor + 0.5 * (peak - floor) * (1.0 + math.cos(math.pi * min(1.0, progress)))


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int, int]:
    """Reflect-pad (B, C, H, W) on the bottom/right to multiples of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, h, w


@torch.inference_mode()
def validate(model: nn.Module, val_set, device: torch.device) -> dict[str, float]:
    """PSNR/SSIM of ``model`` on a fixed validation set of ``tasks.ValSample``s, and of their baselines.

    Each sample says how it is scored (RGB, or luminance for grey prints and SR tables) and
    which border to crop; ``psnr_input``/``ssim_input`` score the sample's baseline (the aged
    input, the bicubic upscale, the grey image).
    """
    was_training = model.training
    model.eval()
    rows = {"psnr": [], "ssim": [], "psnr_input": [], "ssim_input": []}
    for sample in val_set:
        x = torch.from_numpy(sample.x).permute(2, 0, 1)[None].to(device)
        x, h, w = pad_to_multiple(x, getattr(model, "size_multiple", 1))
        s = getattr(model, "scale", 1)
        y = model(x)[..., :h * s, :w * s].clamp(0, 1)[0].permute(1, 2, 0).float().cpu().numpy()
        rows["psnr"].append(metrics.psnr(y, sample.target, on=sample.on, crop=sample.crop))
        rows["ssim"].append(metrics.ssim(y, sample.target, on=sample.on, crop=sample.crop))
        if sample.baseline is not None:
            rows["psnr_input"].append(metrics.psnr(sample.baseline, sample.target, on=sample.on, crop=sample.crop))
            rows["ssim_input"].append(metrics.ssim(sample.baseline, sample.target, on=sample.on, crop=sample.crop))
    model.train(was_training)
    return {k: float(np.mean(v)) for k, v in rows.items() if v}


def _validation_paths(config: TrainConfig) -> tuple[list[Path], int]:
    """-> (validation image paths, how many images to hold out of each training folder)."""
    if config.val:
        return [p for folder in config.val for p in pairs.list_images(folder)], 0
    paths = []
    for folder in config.data:
        paths.extend(pairs.list_images(folder)[-config.val_holdout:])
    return paths, config.val_holdout


def _start_at_identity(G: nn.Module) -> None:
    """Zero the last conv of a residual-head generator: G(x) = x exactly at step 0.

    The networks' Kaiming init leaves a sizeable residual (|G(x) - x| ~ 0.2 on aged crops for
    the U-Net), which the first few hundred CPU steps would spend undoing; with a zero tail
    the run starts from the identity (the aged input) and only learns the correction. The
    tail's own gradient is not zero (its input features are not), so learning starts at once.
    """
    G = getattr(G, "local", G)  # a GlobalUNet: its U-Net (the global stage starts as the identity itself)
    tail = getattr(G, "tail", None)
    if isinstance(tail, nn.Conv2d) and getattr(G, "config", {}).get("head", "residual") == "residual":
        with torch.no_grad():
            tail.weight.zero_()
            if tail.bias is not None:
                tail.bias.zero_()


def _logits_and_features(D: nn.Module, condition: torch.Tensor, image: torch.Tensor):
    """(logits, hidden features) of the conditional D, in one pass when D offers it."""
    if hasattr(D, "forward_features"):
        return D.forward_features(condition, image)
    return D(condition, image), D.features(condition, image)


def _rng_state(np_rng: np.random.Generator) -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np_rng.bit_generator.state}


def _set_rng_state(state: dict[str, Any], np_rng: np.random.Generator) -> None:
    torch.set_rng_state(state["torch"])
    np_rng.bit_generator.state = state["numpy"]


def _card(config: TrainConfig, *, step: int, history: dict, val: dict | None,
          feature_net, elapsed_s: float, best_step: int | None, commands: list[str]) -> dict:
    """The model card: how to rebuild the generator and how it was made."""
    cfg = asdict(config)
    spec = tasks.get_task(config.task)
    return {
        "task": config.task,
        "torch_version": torch.__version__,
        "trained_on": {
            "folders": [str(Path(d).resolve()) for d in config.data],
            "validation": [str(p) for p in _validation_paths(config)[0]],
            "inputs": spec.inputs,
            "degradations": ("gan_engine.degradations.age_image, applied on the fly, AgingConfig overrides: "
                             + json.dumps(config.aging)) if config.task == "restore" else None,
            "crop": config.crop, "batch": config.batch, "max_side": config.max_side,
            "scale_range": list(config.scale_range),
        },
        "command": config.command,
        "commands": commands,  # every session of the run: the first command, then each resume
        "train_config": cfg,
        "steps": step,
        "best_step": best_step,
        "seed": config.seed,
        "elapsed_s": round(elapsed_s, 1),
        "machine": f"{platform.machine()} {platform.processor() or ''} torch threads={config.threads}".strip(),
        "final_losses": {k: round(float(v), 6) for k, v in history.items()},
        "validation": val,
        "feature_network": feature_net.describe() if feature_net is not None else None,
        "discriminator": {"architecture": config.discriminator, "config": config.discriminator_config},
        "adversarial_loss": {
            "kind": config.adv_kind, "weight": config.adversarial,
            "feature_matching": config.feature_matching,
            "starts_at_fraction_of_run": config.adv_start,
            "form": "conditional D(aged, image); D: real pairs vs detached fakes; "
                    "G: adversarial + feature matching on D's intermediate features",
        },
        "loss_weights": {"l1": config.l1, "content_alpha": config.alpha, "style_beta": config.beta,
                         "tv_gamma": config.gamma},
        "ema_decay": config.ema_decay,
    }


def train(config: TrainConfig, *, on_step: Callable[[int, dict[str, float]], None] | None = None) -> Path:
    """Train the restoration GAN as ``config`` says; return the best checkpoint's path.

    on_step: called after every step with (step, this step's losses), e.g. by tests.
    """
    from gan_engine.archs.features import FeatureNetwork
    from gan_engine.devices import resolve_device

    t_start = time.time()
    torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    np_rng = np.random.default_rng(config.seed)

    spec = tasks.get_task(config.task)
    gen_name = config.generator or spec.generator

    # ---- data: RAM cache of the clean images, fixed validation set ----
    val_paths, holdout = _validation_paths(config)
    pools = [pairs.ImagePool.load(folder, max_side=config.max_side, exclude=holdout, min_side=config.crop // 2)
             for folder in config.data]
    sampler = pairs.PairSampler(pools, crop=config.crop, scale_range=config.scale_range,
                               make_pair=spec.pair_maker(config))
    val_set = spec.validation_set(config, val_paths)
    log.info("validation: %d held-out images", len(val_set))

    # ---- models: G, D (conditional patch critic), EMA copy of G, feature network ----
    prepared = spec.prepare(config, pools) if spec.prepare else {}  # data statistics (colour bins)
    gen_config = {**spec.generator_config(config), **prepared, **config.generator_config}
    G = archs.build_generator(gen_name, **gen_config).to(device)
    if config.init:
        init_model, init_card = checkpoints.load_checkpoint(config.init, device="cpu")
        if init_card.get("architecture") != gen_name:
            raise InvalidInputError(f"--init {config.init}: architecture {init_card.get('architecture')!r} "
                             f"is not {gen_name!r}")
        G = init_model.to(device)
        if "class_weights" in prepared and hasattr(G, "set_class_weights"):
            G.set_class_weights(prepared["class_weights"])  # this run's rebalancing, not the old one's
        if "temperature" in config.colour and "temperature" in getattr(G, "config", {}):
            G.config["temperature"] = float(config.colour["temperature"])  # decoding asked for now wins
        log.info("initialised G from %s", config.init)
    elif config.identity_init:
        _start_at_identity(G)
    D = archs.build_discriminator(config.discriminator, **{"cond_ch": spec.cond_channels,
                                                              **config.discriminator_config}).to(device)
    ema = None
    if config.ema_decay > 0:
        ema = archs.build_generator(gen_name, **dict(G.config)).to(device)
        ema.load_state_dict(G.state_dict())
        ema.requires_grad_(False).eval()
    use_features = config.alpha > 0 or config.beta > 0
    feature_net = FeatureNetwork(config.feature_weights).to(device).eval() if use_features else None
    if feature_net is not None:
        feature_net.requires_grad_(False)
    if config.crop % getattr(G, "size_multiple", 1):
        raise InvalidInputError(f"crop {config.crop} is not a multiple of {G.size_multiple}")
    log.info("G %s: %.2f M params; D %s: %.2f M params", gen_name,
             sum(p.numel() for p in G.parameters()) / 1e6, config.discriminator,
             sum(p.numel() for p in D.parameters()) / 1e6)

    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=config.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr_d, betas=config.betas)
    weights = perceptual.LossWeights(alpha=config.alpha, beta=config.beta, gamma=config.gamma, l1=config.l1,
                                 adversarial=config.adversarial, feature_matching=config.feature_matching)

    # ---- resume ----
    step = 0
    best = {"psnr": -math.inf, "step": None, "metrics": None}
    history: dict[str, float] = {}
    if config.resume:
        state_path = Path(config.resume)
        if state_path.is_dir():
            state_path = state_path / STATE_FILE
        state = checkpoints.load_training_state(state_path, map_location=device)
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        if ema is not None and state.get("ema") is not None:
            ema.load_state_dict(state["ema"])
        step = int(state["step"])
        best = state.get("best", best)
        history = state.get("history", {})
        _set_rng_state(state["rng"], np_rng)
        log.info("resumed from %s at step %d", state_path, step)

    def save_state() -> None:
        checkpoints.save_training_state(out / STATE_FILE, {"G": G.state_dict(), "D": D.state_dict(), "opt_g": opt_g.state_dict(),
                    "opt_d": opt_d.state_dict(), "ema": ema.state_dict() if ema is not None else None,
                    "step": step, "best": best, "adv_began": adv_began, "commands": commands,
                    "elapsed_s": elapsed_before + time.time() - t_start, "history": history, "rng": _rng_state(np_rng),
                    "config": asdict(config)})

    def save_model(name: str, val_metrics: dict | None) -> Path:
        card = _card(config, step=step, history=history, val=val_metrics, feature_net=feature_net,
                     elapsed_s=elapsed_before + time.time() - t_start, best_step=best["step"],
                     commands=commands)
        return checkpoints.save_checkpoint(out / name, ema if ema is not None else G, card)

    elapsed_before = 0.0  # seconds spent in earlier sessions of this run (resume)
    adv_began = None  # step at which the adversarial phase began
    commands = [config.command]
    if config.resume:
        elapsed_before = float(state.get("elapsed_s", 0.0))
        adv_began = state.get("adv_began")
        commands = list(state.get("commands") or [state.get("config", {}).get("command", "")]) + commands

    def run_progress() -> float:
        p = step / config.steps
        if config.time_limit_s:
            p = max(p, (elapsed_before + time.time() - t_start) / config.time_limit_s)
        return min(1.0, p)
    last_save = time.time()
    pbar = None
    if config.progress:
        from tqdm import tqdm
        pbar = tqdm(total=config.steps, initial=step, desc=f"train {config.task}", dynamic_ncols=True)
    G.train()
    D.train()
    t_log, steps_since_log = time.time(), 0

    while step < config.steps:
        progress = run_progress()
        adversarial = progress >= config.adv_start and (config.adversarial > 0 or config.feature_matching > 0)
        if adversarial and adv_began is None:
            adv_began = step
            log.info("adversarial phase begins at step %d", step)
        for group in opt_g.param_groups:
            group["lr"] = get_lr(step, config, config.lr, progress if config.time_limit_s else None)
        for group in opt_d.param_groups:  # D warms up from the start of its phase
            group["lr"] = get_lr(step - (adv_began or 0), config, config.lr_d, progress)

        # aged: the model input (B, c_in, h, w): aged crop, low-resolution crop or L channel;
        # clean: the target (B, 3, crop, crop)
        aged, clean = sampler.batch(config.batch, np_rng)
        aged, clean = aged.to(device), clean.to(device)
        # fake = G(aged) (B, 3, crop, crop) in [0, 1], and the task's reconstruction term
        fake, rec_loss, parts, *window = spec.reconstruction(G, aged, clean, config)
        if window:  # the loss was taken on a window of the crop (a two-stage restorer)
            aged, clean = window

        # (1) D: real pairs (aged, clean) vs detached fakes (aged, G(aged))
        real_feats = None
        if adversarial:
            D.requires_grad_(True)
            opt_d.zero_grad(set_to_none=True)
            real_logits, real_feats = _logits_and_features(D, aged, clean)
            real_feats = [f.detach() for f in real_feats]  # targets of G's feature matching
            d_loss = d_adversarial_loss(real_logits, D(aged, fake.detach()), config.adv_kind)
            d_loss.backward()
            opt_d.step()
            parts["d"] = d_loss.item()

        # (2) G: reconstruction losses, plus D's judgement after the warm-up
        opt_g.zero_grad(set_to_none=True)
        g_loss = rec_loss
        if feature_net is not None:
            f_fake, f_clean = feature_net(fake), feature_net(clean)
            perc, perc_parts = perceptual.perceptual_loss(f_fake, f_clean, f_clean, weights, image=fake)
            g_loss = g_loss + perc
            parts.update({k: float(v) for k, v in perc_parts.items() if k != "l1"})
        if config.gamma > 0 and feature_net is None:
            g_loss = g_loss + config.gamma * perceptual.tv_loss(fake)
        if adversarial:
            D.requires_grad_(False)  # G's step must not accumulate gradients in D
            fake_logits, fake_feats = _logits_and_features(D, aged, fake)  # one pass for both terms
            g_adv = g_adversarial_loss(fake_logits, config.adv_kind)
            g_loss = g_loss + config.adversarial * g_adv
            parts["g_adv"] = g_adv.item()
            if config.feature_matching > 0:
                # real features from D's step just before (pre-update D: cheaper than a third pass)
                fm = feature_matching_loss(real_feats, fake_feats)
                g_loss = g_loss + config.feature_matching * fm
                parts["fm"] = fm.item()
        g_loss.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(G.parameters(), config.grad_clip)
        opt_g.step()
        parts["g"] = g_loss.item()
        if ema is not None:
            with torch.no_grad():
                # Early on the EMA would lag behind a fast-moving G: ramp its decay up.
                decay = min(config.ema_decay, (1 + step) / (10 + step))
                for pe, pg in zip(ema.parameters(), G.parameters()):
                    pe.lerp_(pg, 1.0 - decay)
                for be, bg in zip(ema.buffers(), G.buffers()):
                    be.copy_(bg)
        step += 1
        steps_since_log += 1
        if on_step is not None:
            on_step(step, dict(parts))
        # smoothed losses for the log and the card
        for k, v in parts.items():
            history[k] = v if k not in history else 0.95 * history[k] + 0.05 * v

        if pbar is not None:
            pbar.update(1)
            pbar.set_postfix({k: f"{v:.4f}" for k, v in history.items() if k in ("l1", "g", "d")})
        if step % config.log_every == 0 or step == config.steps:
            rate = steps_since_log / max(1e-9, time.time() - t_log)
            log.info("step %d/%d lr %.2e %s %.2f steps/s", step, config.steps, opt_g.param_groups[0]["lr"],
                     " ".join(f"{k} {v:.4f}" for k, v in history.items()), rate)
            t_log, steps_since_log = time.time(), 0

        out_of_time = config.time_limit_s is not None and run_progress() >= 1.0
        if step % config.val_every == 0 or step == config.steps or out_of_time:
            v = validate(ema if ema is not None else G, val_set, device)
            v["step"] = step
            log.info("validation step %d: PSNR %.2f dB (input %.2f) SSIM %.4f (input %.4f)",
                     step, v["psnr"], v["psnr_input"], v["ssim"], v["ssim_input"])
            with open(out / "validation.jsonl", "a") as fh:
                fh.write(json.dumps(v) + "\n")
            if v["psnr"] > best["psnr"]:
                best = {"psnr": v["psnr"], "step": step, "metrics": v}
                save_model("best.safetensors", v)
                log.info("new best checkpoint at step %d", step)
        if time.time() - last_save > config.checkpoint_every_s or step == config.steps or out_of_time:
            save_model("last.safetensors", best["metrics"])
            save_state()
            last_save = time.time()
        if out_of_time:
            log.warning("time limit reached at step %d", step)
            break

    if pbar is not None:
        pbar.close()
    best_path = out / "best.safetensors"
    return best_path if best_path.exists() else save_model("last.safetensors", best["metrics"])
