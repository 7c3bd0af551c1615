"""Training a feed-forward style model for ONE reference (Johnson et al. 2016) with an
unconditional PatchGAN judging patches of the reference against patches of the output.

Applying the trained model is :class:`gan_engine.inference.style.Stylizer`; the losses are those
of :mod:`gan_engine.losses.style`. The model card records the reference's path and sha256, the
feature network, the loss weights, the losses before and after on fixed validation crops, the
steps and the seconds.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from gan_engine import archs, checkpoints
from gan_engine.archs.features import FeatureNetwork
from gan_engine.cards import sha256_file
from gan_engine.data import pairs
from gan_engine.data.imageio import load_rgb
from gan_engine.data.resampling import resize_max_side
from gan_engine.devices import resolve_device
from gan_engine.inference.style import CARD_TASK
from gan_engine.losses import adversarial, perceptual
from gan_engine.losses.style import CONTENT_LAYERS, FINE_STYLE_LAYERS, feature_network, reference_grams
from gan_engine.errors import InvalidInputError

__all__ = ["StyleTrainConfig", "train_feedforward"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StyleTrainConfig:
    """A feed-forward style model for ONE reference (recorded in full in the model card)."""

    reference: str = ""  # the style image (its path and sha256 go into the card; the image is not stored)
    data: tuple[str, ...] = ()  # folders of content images; each is sampled equally often
    out: str = "runs/style"  # folder of the checkpoint (<out>/<name>.safetensors + .json)
    name: str = "style"  # file stem of the checkpoint
    # --- data ---
    crop: int = 128  # content crop side (px), a multiple of the generator's size_multiple
    batch: int = 4  # crops per step
    max_side: int = 512  # content images are cached at this long side; the reference is used at it too
    max_images: int | None = 200  # at most this many images per folder are decoded (start-up time, RAM)
    scale_range: tuple[float, float] = (0.5, 1.0)  # random rescale of a content crop's source region
    val_crops: int = 8  # fixed content crops on which the losses before / after are measured
    # Pixels of G's output border left out of every loss: with zero-padded convolutions a style
    # loss rewards cheap high-contrast stripes along the crop's edges (seen in the first runs).
    # The Stylizer reflect-pads images by the receptive radius, so no zero padding reaches a kept pixel.
    margin: int = 16
    # --- models ---
    generator: str = "unet"  # key of archs.GENERATORS
    # 4 levels, widths 16..128: ~0.9 M parameters, receptive radius 74 px, ~0.4 s per step on 2 cores
    generator_config: dict = field(default_factory=lambda: {"base": 16, "mults": [1, 2, 4, 8],
                                                            "head": "residual"})
    discriminator: str = "patchgan"  # key of archs.DISCRIMINATORS, built unconditional (cond_ch=0)
    # 2 strided layers: 34 px patches, the scale of a texture rather than of a scene
    discriminator_config: dict = field(default_factory=lambda: {"ndf": 32, "n_layers": 2})
    feature_weights: str | None = None  # torchvision VGG19 state dict; None: the seeded random network
    style_layers: tuple[str, ...] = FINE_STYLE_LAYERS  # see FINE_STYLE_LAYERS
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    # --- losses ---
    alpha: float = 2.0  # content: features of G(x) against those of x (twice optimize's: one network
    # must serve every image; at 1.0 faces and fur went ghostly in the first runs)
    beta: float = 1000.0  # style: Grams of G(x) against the reference's (as StyleOptimizeConfig)
    gamma: float = 0.1  # total variation of G(x)
    adversarial: float = 0.05  # G's adversarial term once D has started (~5% of the total loss)
    adv_kind: str = "lsgan"  # adversarial.d_adversarial_loss kind
    adv_start: float = 0.25  # fraction of the steps trained on the perceptual loss alone
    # --- optimisation ---
    steps: int = 400  # total steps
    lr: float = 1e-3  # peak Adam rate of G (Johnson et al.'s value), cosine decay to 5%
    lr_d: float = 2e-4  # Adam rate of D
    seed: int = 0  # seeds torch, the crop sampler and the validation crops
    threads: int | None = 2  # torch CPU threads (None: leave torch's setting)
    device: str = "cpu"
    time_limit_s: float | None = None  # time budget (s) of the whole run, data loading included; None: steps only.
    # With a budget, the run's progress is max(step / steps, elapsed / time_limit_s): the cosine
    # decay and the start of the adversarial phase follow whichever ends first (as training.py).
    log_every: int = 25  # steps between log lines
    progress: bool = True  # tqdm progress bar
    command: str = ""  # the command line, for the card

    def __post_init__(self) -> None:
        if not self.reference:
            raise InvalidInputError("StyleTrainConfig.reference: give the style reference image")
        if not self.data:
            raise InvalidInputError("StyleTrainConfig.data: give at least one folder of content images")
        if self.steps < 1 or self.batch < 1 or self.crop < 16:
            raise InvalidInputError("steps >= 1, batch >= 1 and crop >= 16 are required")
        if self.margin < 0 or self.crop - 2 * self.margin < 16:
            raise InvalidInputError(f"margin must be >= 0 and leave at least 16 px of the {self.crop} px crop")
        if not 0.0 <= self.adv_start <= 1.0:
            raise InvalidInputError(f"adv_start must be in [0, 1], got {self.adv_start}")
        perceptual.LossWeights(alpha=self.alpha, beta=self.beta, gamma=self.gamma, adversarial=self.adversarial)
        if self.adv_kind not in adversarial.ADVERSARIAL_KINDS:
            raise InvalidInputError(f"unknown adversarial loss {self.adv_kind!r}")


def _cosine_lr(progress: float, peak: float, floor_ratio: float = 0.05) -> float:
    """Cosine decay from ``peak`` at progress 0 to ``floor_ratio * peak`` at progress 1."""
    floor = peak * floor_ratio
    return floor + 0.5 * (peak - floor) * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _sample_crops(pools: Sequence[pairs.ImagePool], n: int, crop: int, rng: np.random.Generator,
                  scale_range: tuple[float, float]) -> torch.Tensor:
    """(n, 3, crop, crop) float32: a pool uniformly, an image uniformly in it, a random crop."""
    out = []
    for _ in range(n):
        pool = pools[int(rng.integers(0, len(pools)))]
        img = pool.images[int(rng.integers(0, len(pool.images)))]
        out.append(pairs.random_crop(img, crop, rng, scale_range))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


def _load_pools(config: StyleTrainConfig) -> list[pairs.ImagePool]:
    pools = []
    for folder in config.data:
        paths = pairs.list_images(folder)
        if not paths:
            raise InvalidInputError(f"no images in {folder}")
        if config.max_images and len(paths) > config.max_images:
            # an even spread over the sorted names, so every subset of a folder is represented
            keep = np.linspace(0, len(paths) - 1, config.max_images).round().astype(int)
            paths = [paths[i] for i in sorted(set(keep.tolist()))]
        images, kept = [], []
        for p in paths:
            img = pairs.decode_image(p, config.max_side)
            if min(img.shape[:2]) >= 16:
                images.append(img)
                kept.append(p)
        pools.append(pairs.ImagePool(str(folder), kept, images))
        log.info("style training: %d content images from %s", len(images), folder)
    return pools


def _centre(t: torch.Tensor, margin: int) -> torch.Tensor:
    """(B, C, H, W) without ``margin`` pixels on every side."""
    return t[..., margin:t.shape[-2] - margin, margin:t.shape[-1] - margin] if margin else t


@torch.no_grad()
def _measure(G: nn.Module, net: FeatureNetwork, x: torch.Tensor, grams: Mapping[str, torch.Tensor],
             config: StyleTrainConfig) -> dict[str, float]:
    """Mean style and content losses of G(x) (G=None: of x itself) over the validation crops' centres."""
    y = _centre(x if G is None else G(x), config.margin)
    x = _centre(x, config.margin)
    f_y, f_x = net(y), net(x)
    style = perceptual.style_loss(f_y, grams, config.style_layers)
    content = sum(perceptual.content_loss(f_y[n], f_x[n]) for n in config.content_layers) / len(config.content_layers)
    return {"style": float(style), "content": float(content), "tv": float(perceptual.tv_loss(y))}


def train_feedforward(config: StyleTrainConfig, *,
                      on_step: Callable[[int, dict[str, float]], None] | None = None) -> Path:
    """Train a feed-forward style generator for ``config.reference`` -> path of the .safetensors.

    Loss of G: alpha * content(G(x), x) + beta * style(G(x), reference Grams) + gamma * TV(G(x))
    (+ adversarial * g_adv(D(G(x))) after ``adv_start`` of the steps), where D is an
    unconditional PatchGAN trained to tell random crops of the reference from G's outputs
    (dcgan's step: D on real and on G(x).detach(), then G against D). G starts as the identity
    (residual head, last conv zeroed). The card records the reference's path and sha256, the
    feature network, the loss weights, the losses before/after on fixed validation crops, the
    steps and the seconds.
    """
    t_start = time.perf_counter()
    ref_path = Path(config.reference)
    reference = load_rgb(ref_path)  # ImageReadError for a missing or non-image file
    for folder in config.data:
        if not Path(folder).exists():
            raise InvalidInputError(f"no such folder: {folder}")
    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    val_rng = np.random.default_rng(config.seed + 1)

    pools = _load_pools(config)
    ref_small = resize_max_side(reference, config.max_side)
    ref_uint8 = (np.clip(ref_small, 0, 1) * 255 + 0.5).astype(np.uint8)  # random_crop takes uint8

    net = feature_network(config.feature_weights, config.style_layers + config.content_layers).to(device)
    grams = reference_grams(net, ref_small, max_side=config.max_side, layers=config.style_layers, device=device)
    weights = perceptual.LossWeights(alpha=config.alpha, beta=config.beta, gamma=config.gamma, l1=0.0,
                                 adversarial=config.adversarial, feature_matching=0.0)

    G = archs.build_generator(config.generator, **config.generator_config).to(device)
    if config.crop % G.size_multiple:
        raise InvalidInputError(f"crop {config.crop} is not a multiple of the generator's size_multiple {G.size_multiple}")
    if getattr(G, "config", {}).get("head") == "residual" and hasattr(G, "tail"):
        nn.init.zeros_(G.tail.weight)  # start as the identity: the content is there from step 0
        nn.init.zeros_(G.tail.bias)
    D = archs.build_discriminator(config.discriminator, **{**config.discriminator_config, "cond_ch": 0}).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr_d, betas=(0.5, 0.99))

    x_val = _sample_crops(pools, config.val_crops, config.crop, val_rng, (1.0, 1.0)).to(device)
    G.eval()
    measured = {"input": _measure(None, net, x_val, grams, config), "before": _measure(G, net, x_val, grams, config)}
    G.train()
    log.info("style training: %s params G, %s params D; validation before %s", archs.count_parameters(G),
             archs.count_parameters(D), measured["before"])


    def run_progress() -> float:
        p = step / config.steps
        if config.time_limit_s:
            p = max(p, (time.perf_counter() - t_start) / config.time_limit_s)
        return min(1.0, p)

    history: list[dict] = []
    running: dict[str, float] = {}
    bar = None
    if config.progress:
        from tqdm import tqdm
        bar = tqdm(total=config.steps, desc="train style", dynamic_ncols=True)
    step = 0
    adversarial_on = config.adv_start == 0.0
    stopped_early = False
    while step < config.steps:
        for group in opt_g.param_groups:
            group["lr"] = _cosine_lr(run_progress(), config.lr)
        x = _sample_crops(pools, config.batch, config.crop, rng, config.scale_range).to(device)  # (B, 3, c, c)
        y = _centre(G(x), config.margin)  # (B, 3, c - 2m, c - 2m) in [0, 1]
        with torch.no_grad():
            f_x = net(_centre(x, config.margin))
        total, parts = perceptual.perceptual_loss(net(y), f_x, grams, weights, content_layers=config.content_layers,
                                              style_layers=config.style_layers, image=y)
        logs = {k: float(v) for k, v in parts.items()}
        if config.adversarial > 0 and (adversarial_on or run_progress() >= config.adv_start):
            adversarial_on = True  # once started (by steps or by time), D stays in the loop
            real = _sample_crops([pairs.ImagePool("reference", [ref_path], [ref_uint8])], config.batch,
                                 y.shape[-1], rng, (1.0, 1.0)).to(device)  # patches of y's size
            none = real[:, :0]  # an empty condition: D is unconditional
            d_loss = adversarial.d_adversarial_loss(D(none, real), D(none, y.detach()), config.adv_kind)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            g_adv = adversarial.g_adversarial_loss(D(none, y), config.adv_kind)
            total = total + config.adversarial * g_adv
            logs.update(d=float(d_loss.detach()), g_adv=float(g_adv.detach()))
        opt_g.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(G.parameters(), 1.0)
        opt_g.step()
        step += 1
        logs["total"] = float(total.detach())
        for k, v in logs.items():
            running[k] = running.get(k, 0.0) + v
        running["n"] = running.get("n", 0) + 1
        if on_step is not None:
            on_step(step, logs)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(style=f"{logs['style']:.3g}", content=f"{logs['content']:.3g}")
        out_of_time = config.time_limit_s is not None and run_progress() >= 1.0 and step < config.steps
        if step % config.log_every == 0 or step == config.steps or out_of_time:
            n = running.pop("n")
            mean = {k: round(v / n, 6) for k, v in running.items()}
            history.append({"step": step, **mean})
            log.info("step %d: %s", step, mean)
            running = {}
        if out_of_time:
            stopped_early = True
            log.info("time budget of %.0f s spent after %d of %d steps", config.time_limit_s, step, config.steps)
            break
    if bar is not None:
        bar.close()
    G.eval()
    measured["after"] = _measure(G, net, x_val, grams, config)
    seconds = time.perf_counter() - t_start
    log.info("style training: %d steps in %.0f s; validation after %s", step, seconds, measured["after"])

    card = {
        "task": CARD_TASK,
        "name": config.name,
        "reference": {"path": str(config.reference), "file": ref_path.name, "sha256": sha256_file(ref_path),
                      "size": list(reference.shape[:2]), "used_at": list(ref_small.shape[:2])},
        "data": [str(d) for d in config.data],
        "content_images": {p.folder: len(p.images) for p in pools},
        "feature_network": net.describe(),
        "style_layers": list(config.style_layers),
        "content_layers": list(config.content_layers),
        "loss_weights": {"alpha": config.alpha, "beta": config.beta, "gamma": config.gamma,
                         "adversarial": config.adversarial, "adv_kind": config.adv_kind},
        "discriminator": {"architecture": config.discriminator,
                          "config": {**config.discriminator_config, "cond_ch": 0}},
        "steps": step,
        "stopped_early": stopped_early,
        "seconds": round(seconds, 1),
        "losses": {"validation_crops": config.val_crops, "crop": config.crop, **measured},
        "parameters": archs.count_parameters(G),
        "receptive_radius": int(G.receptive_radius),
        "margin": config.margin,  # output border left out of the training losses
        # The Stylizer reflect-pads images by this many pixels (the receptive radius rounded up to
        # the size multiple): with a margin of 16 alone, faint stripes remained along the edges.
        "reflect_pad": -(-int(G.receptive_radius) // G.size_multiple) * G.size_multiple,
        "train_config": _jsonable(asdict(config)),
        "command": config.command,
        "torch_version": torch.__version__,
        "history": history,
    }
    G = G.to("cpu")
    return checkpoints.save_checkpoint(Path(config.out) / f"{config.name}.safetensors", G, card)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
