"""Training the semantic colorizer: frozen ImageNet encoder, decoder over ab bins, a PatchGAN.

The encoder is frozen, so its features of every training crop are computed once and cached
(fp16, about 270 kB a crop); training then runs only the decoder and the discriminator, which
is what makes thousands of steps affordable on two CPU cores. The cost of that choice: no
augmentation beyond the cached crops (several random crops, scales and flips per photograph).

Losses, per pixel at 1/4 resolution:
- cross-entropy against soft targets over the ab bins (Zhang et al. 2016), without class
  rebalancing (rebalancing buys colourfulness with wrong colours; the decoding temperature is
  the knob for colourfulness instead, set on validation images);
- squared error of the distribution's mean against the true ab (keeps the mean, the
  PSNR-optimal decoding, close to the truth, and grey where unsure);
- an LSGAN term from a small conditional PatchGAN on (L, ab) at 1/4 resolution, from
  ``adv_start`` on (the seed's adversarial term), judging the annealed decoding.

Resumable: ``state.pt`` in the run folder holds decoder, discriminator, EMA, optimisers and
step; the feature cache is saved beside it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from gan_engine.data import color
from gan_engine.evaluation import metrics
from gan_engine.archs.colorizer import ENCODER_TAPS, ColorDecoder, SemanticColorizer, decode_ab
from gan_engine.pretrained import mobilenet
from gan_engine.training.colorization import soft_targets

log = logging.getLogger(__name__)

__all__ = ["ColorizerTrainConfig", "train_colorizer", "evaluate_colorizer", "ab_bins"]


@dataclass(frozen=True)
class ColorizerTrainConfig:
    data: tuple[str, ...]  # colour training folders
    val: tuple[str, ...]  # validation folders (model selection; never the reported eval set)
    mobilenet: str  # converted MobileNetV2 safetensors (python -m gan_engine convert-mobilenet)
    run_dir: str
    crops_per_image: int = 3  # cached random crops (scale, position, flip) per photograph
    crop: int = 224  # crop side, the encoder's native input size
    short_side: tuple[int, int] = (256, 384)  # photographs are rescaled to this short side first
    grid: float = 10.0  # ab bin size (Zhang et al.)
    min_share: float = 2e-5  # a grid cell becomes a bin when this share of pixels falls in it
    soft_k: int = 5  # nearest bins of a soft target
    soft_sigma: float = 5.0  # Gaussian width of a soft target (ab units)
    steps: int = 3000
    batch: int = 24
    lr: float = 3e-4
    mse: float = 1.0  # weight of the squared error of the mean ab (units of 100)
    adv: float = 0.02  # weight of the adversarial term
    adv_start: int = 800  # step at which the adversarial term starts
    adv_temperature: float = 0.5  # decoding the discriminator judges
    ema: float = 0.999
    val_every: int = 250
    work_short: int = 320  # inference working resolution (short side)
    seed: int = 0
    widths: tuple[int, int, int] = (160, 96, 64)


def _is_colour(img: np.ndarray) -> bool:
    return int(np.ptp(img[::4, ::4].astype(np.int16), axis=2).max()) > 8


def _crops(paths: list[Path], cfg: ColorizerTrainConfig, rng: np.random.Generator):
    """Yield (grey-free) random crops: (224, 224, 3) float32 sRGB."""
    from PIL import Image

    for p in paths:
        with Image.open(p) as im:
            im = im.convert("RGB")
            img = np.asarray(im)
            if not _is_colour(img):
                continue
            for _ in range(cfg.crops_per_image):
                short = rng.integers(cfg.short_side[0], cfg.short_side[1] + 1)
                s = short / min(im.size)
                w, h = max(cfg.crop, round(im.size[0] * s)), max(cfg.crop, round(im.size[1] * s))
                arr = np.asarray(im.resize((w, h), Image.BICUBIC, reducing_gap=2.0), np.float32) / 255.0
                y = rng.integers(0, h - cfg.crop + 1)
                x = rng.integers(0, w - cfg.crop + 1)
                c = arr[y:y + cfg.crop, x:x + cfg.crop]
                if rng.random() < 0.5:
                    c = c[:, ::-1]
                yield np.ascontiguousarray(np.clip(c, 0, 1))


@torch.inference_mode()
def build_cache(cfg: ColorizerTrainConfig, encoder: mobilenet.MobileNetV2) -> dict[str, torch.Tensor]:
    """Encoder features (fp16), L and ab at 1/4 resolution of every cached crop."""
    from gan_engine.archs.colorizer import lightness_to_grey
    from gan_engine.data.pairs import list_images

    rng = np.random.default_rng(cfg.seed)
    paths = [p for folder in cfg.data for p in list_images(folder)]
    feats: dict[str, list[torch.Tensor]] = {k: [] for k in ENCODER_TAPS}
    L4s, ab4s = [], []
    batch: list[np.ndarray] = []

    def flush():
        rgb = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2)
        lab = color.rgb_to_lab_torch(rgb)
        L = lab[:, :1] / 100.0
        f = encoder.features(lightness_to_grey(L).expand(-1, 3, -1, -1), ENCODER_TAPS)
        for k in ENCODER_TAPS:
            feats[k].append(f[k].half())
        L4s.append(F.avg_pool2d(L, 4).half())
        ab4s.append(F.avg_pool2d(lab[:, 1:], 4).half())
        batch.clear()

    for crop in tqdm(_crops(paths, cfg, rng), total=len(paths) * cfg.crops_per_image, desc="feature cache"):
        batch.append(crop)
        if len(batch) == 32:
            flush()
    if batch:
        flush()
    cache = {k: torch.cat(v) for k, v in feats.items()}
    cache["L4"], cache["ab4"] = torch.cat(L4s), torch.cat(ab4s)
    return cache


def ab_bins(ab4: torch.Tensor, grid: float, min_share: float) -> torch.Tensor:
    """The grid cells the training colours use: (Q, 2) ab centres."""
    flat = ab4.float().permute(0, 2, 3, 1).reshape(-1, 2)
    cells = torch.floor(flat / grid).long()
    keys, counts = torch.unique(cells, dim=0, return_counts=True)
    keep = counts.float() / counts.sum() >= min_share
    return (keys[keep].float() + 0.5) * grid


class PatchD(nn.Module):
    """Conditional PatchGAN on (L, a, b) at 1/4 resolution: 3 strided convs, a score per patch."""

    def __init__(self, base: int = 48):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, base, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(base, base * 2, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(base * 2, base * 2, 3, 1, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(base * 2, 1, 3, 1, 1))

    def forward(self, L4: torch.Tensor, ab4: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([L4 * 2 - 1, ab4 / 100.0], 1))


def _load_val(cfg: ColorizerTrainConfig) -> list[np.ndarray]:
    from gan_engine.data.pairs import list_images
    from PIL import Image

    out = []
    for folder in cfg.val:
        for p in list_images(folder):
            img = np.asarray(Image.open(p).convert("RGB"))
            if _is_colour(img):
                out.append(img.astype(np.float32) / 255.0)
    return out


def _prepare_scoring(model: SemanticColorizer, images: list[np.ndarray], work_short: int) -> list[tuple]:
    """(image, L, logits, grey image) per image: the network runs once, the decodings vary."""
    from gan_engine.inference.semantic_colorize import compose_lab, lightness_of, predict_logits

    model.eval()
    out = []
    for img in images:
        L = lightness_of(img)
        out.append((img, L, predict_logits(model, L, work_short), compose_lab(L, np.zeros(L.shape + (2,), np.float32))))
    return out


def _score(model: SemanticColorizer, prepared: list[tuple], temperature: float, gain: float) -> dict[str, float]:
    """Mean PSNR (RGB) of one decoding and of the grey image; colourfulness of both outputs."""
    from gan_engine.inference.semantic_colorize import compose_lab, guided_upsample

    ps, pg, cf, ct = [], [], [], []
    for img, L, logits, grey in prepared:
        with torch.inference_mode():
            ab = decode_ab(logits, model.bins, temperature)[0].permute(1, 2, 0).numpy() * gain
        out = compose_lab(L, guided_upsample(ab.astype(np.float32), L))
        ps.append(metrics.psnr(out, img))
        pg.append(metrics.psnr(grey, img))
        cf.append(metrics.colourfulness(out))
        ct.append(metrics.colourfulness(img))
    return {"psnr": float(np.mean(ps)), "psnr_grey": float(np.mean(pg)), "colourfulness": float(np.mean(cf)),
            "colourfulness_true": float(np.mean(ct))}


def evaluate_colorizer(model: SemanticColorizer, images: list[np.ndarray], *, temperature: float = 1.0,
                       gain: float = 1.0, work_short: int = 320) -> dict[str, float]:
    """Mean PSNR (RGB) of the colorized grey image and of the grey image itself; colourfulness."""
    return _score(model, _prepare_scoring(model, images, work_short), temperature, gain)


def train_colorizer(cfg: ColorizerTrainConfig) -> Path:
    """Train (or resume) in ``cfg.run_dir``; returns the path of the final state."""
    run = Path(cfg.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    torch.manual_seed(cfg.seed)
    encoder = mobilenet.load(cfg.mobilenet)
    cache_path = run / "cache.pt"
    if cache_path.exists():
        cache = torch.load(cache_path, weights_only=True)
    else:
        t0 = time.time()
        cache = build_cache(cfg, encoder)
        torch.save(cache, cache_path)
        log.info("feature cache: %d crops in %.0f s", len(cache["L4"]), time.time() - t0)
    n = len(cache["L4"])
    bins = ab_bins(cache["ab4"], cfg.grid, cfg.min_share)
    log.info("%d crops, %d ab bins", n, len(bins))

    model = SemanticColorizer(bins, cfg.widths)
    model.encoder.load_state_dict(encoder.state_dict())
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    dec, D = model.decoder, PatchD()
    ema = ColorDecoder(len(bins), cfg.widths)
    ema.load_state_dict(dec.state_dict())
    opt_g = torch.optim.Adam(dec.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.5, 0.99))
    step, history = 0, []
    state_path = run / "state.pt"
    if state_path.exists():
        st = torch.load(state_path, weights_only=False)
        dec.load_state_dict(st["decoder"]); ema.load_state_dict(st["ema"]); D.load_state_dict(st["D"])
        opt_g.load_state_dict(st["opt_g"]); opt_d.load_state_dict(st["opt_d"])
        step, history = st["step"], st["history"]
        torch.set_rng_state(st["rng"])
        log.info("resumed at step %d", step)
    val = _load_val(cfg)
    t_start = time.time() - (history[-1]["seconds"] if history else 0.0)
    gen = torch.Generator().manual_seed(cfg.seed + step)

    def save():
        torch.save({"decoder": dec.state_dict(), "ema": ema.state_dict(), "D": D.state_dict(),
                    "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "step": step,
                    "history": history, "rng": torch.get_rng_state(), "bins": bins}, state_path.with_suffix(".tmp"))
        state_path.with_suffix(".tmp").replace(state_path)

    bar = tqdm(total=cfg.steps, initial=step, desc="colorizer")
    while step < cfg.steps:
        lr = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))  # cosine decay
        for g in opt_g.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, n, (cfg.batch,), generator=gen)
        feats = {k: cache[k][idx].float() for k in ENCODER_TAPS}
        L4, ab4 = cache["L4"][idx].float(), cache["ab4"][idx].float()
        dec.train()
        logits = dec(feats, L4)  # (B, Q, 56, 56)
        soft, _ = soft_targets(ab4, bins, cfg.soft_k, cfg.soft_sigma)
        ce = -(soft * torch.log_softmax(logits, 1)).sum(1).mean()
        mean_ab = decode_ab(logits, bins, 1.0)
        mse = ((mean_ab - ab4) / 100.0).pow(2).mean()
        loss = ce + cfg.mse * mse
        adv_g = torch.zeros(())
        use_adv = cfg.adv > 0 and step >= cfg.adv_start
        if use_adv:
            fake = decode_ab(logits, bins, cfg.adv_temperature)
            # D step on real and on the detached fake (the dcgan step), LSGAN targets 1 / 0.
            d_loss = (D(L4, ab4) - 1).pow(2).mean() + D(L4, fake.detach()).pow(2).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            adv_g = (D(L4, fake) - 1).pow(2).mean()
            loss = loss + cfg.adv * adv_g
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        with torch.no_grad():  # EMA with warm-up: early averages must not keep the random init
            decay = min(cfg.ema, (1 + step) / (10 + step))
            for pe, pd in zip(ema.parameters(), dec.parameters()):
                pe.lerp_(pd, 1 - decay)
        step += 1
        bar.update(1)
        bar.set_postfix(ce=f"{ce.item():.3f}", mse=f"{mse.item():.4f}", adv=f"{adv_g.item():.3f}")
        if step % cfg.val_every == 0 or step == cfg.steps:
            model.decoder = ema
            scores = evaluate_colorizer(model, val, work_short=cfg.work_short) if val else {}
            model.decoder = dec
            entry = {"step": step, "seconds": round(time.time() - t_start, 1), "ce": round(ce.item(), 4),
                     "mse": round(mse.item(), 5), **{k: round(v, 3) for k, v in scores.items()}}
            history.append(entry)
            log.info("%s", entry)
            save()
    bar.close()
    model.decoder = ema
    torch.save({"model": model.state_dict(), "config": asdict(cfg), "history": history}, run / "final.pt")
    return run / "final.pt"


# Decodings tried by :func:`select_decoding`: (temperature, chroma gain).
DECODINGS = tuple((t, g) for t in (1.0, 0.7, 0.5) for g in (1.0, 1.3, 1.6, 2.0))


def select_decoding(model: SemanticColorizer, images: list[np.ndarray], *, margin_db: float = 0.75,
                    work_short: int = 320) -> tuple[tuple[float, float], list[dict]]:
    """The most colourful decoding whose PSNR stays ``margin_db`` above the grey image.

    A rule fixed before looking at any evaluation set, applied to the validation images only:
    a wrong colour is worse than none, so colourfulness is bought only while the PSNR over
    grey holds. The network runs once per image; only the decoding varies.
    Returns ((temperature, gain), the table of every decoding tried).
    """
    prepared = _prepare_scoring(model, images, work_short)
    table = []
    for t, g in DECODINGS:
        r = _score(model, prepared, t, g)
        table.append({"temperature": t, "gain": g, **{k: round(v, 3 if k.startswith("psnr") else 2)
                                                      for k, v in r.items()}})
        log.info("decoding %s", table[-1])
    ok = [r for r in table if r["psnr"] >= r["psnr_grey"] + margin_db]
    best = max(ok, key=lambda r: r["colourfulness"]) if ok else max(table, key=lambda r: r["psnr"])
    return (best["temperature"], best["gain"]), table


def export_colorizer(run_dir: str | Path, out: str | Path, *, card: dict | None = None,
                     select: bool = True, decoder: str = "ema") -> Path:
    """Ship a run: the decoder (``"ema"`` or the raw ``"decoder"``) and the encoder in half
    precision, a card, the decoding chosen on the run's validation folders (:func:`select_decoding`)."""
    from gan_engine import checkpoints

    run = Path(run_dir)
    cfg = ColorizerTrainConfig(**{k: tuple(v) if isinstance(v, list) else v
                                  for k, v in json.loads((run / "config.json").read_text()).items()})
    st = torch.load(run / "state.pt", weights_only=False)
    model = SemanticColorizer(st["bins"], cfg.widths, work_short=cfg.work_short)
    model.encoder.load_state_dict(mobilenet.load(cfg.mobilenet).state_dict())
    model.decoder.load_state_dict(st[decoder])
    model.eval()
    table: list[dict] = []
    if select:
        (t, g), table = select_decoding(model, _load_val(cfg), work_short=cfg.work_short)
        chosen = SemanticColorizer(st["bins"], cfg.widths, temperature=t, gain=g, work_short=cfg.work_short)
        chosen.load_state_dict(model.state_dict())  # the decoding lives in the config, not the weights
        model = chosen
    model.half()  # storage: half precision (the loader copies into float32 parameters)
    full = {"task": "colorize", "data_folders": list(cfg.data), "validation_folders": list(cfg.val),
            "pretrained": {"encoder": "MobileNetV2 1.0 (ImageNet), frozen", **mobilenet.SOURCE,
                           "weights_sha256_converted": checkpoints.sha256_file(cfg.mobilenet)},
            "train_config": asdict(cfg), "steps": st["step"], "decoder_weights": decoder, "history": st["history"],
            "wall_seconds": st["history"][-1]["seconds"] if st["history"] else None,
            "decoding_table": table, **(card or {})}
    return checkpoints.save_checkpoint(out, model, full)
