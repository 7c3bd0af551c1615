"""upscale: x2 or x4 super-resolution, by the faithful upscaler (L1-trained, the archive's
default) or its adversarial fine-tune (sharper, may invent texture). Bit depth, grey, alpha and
ICC are kept. An IPTC "algorithmically enhanced" result: it enhances what is there."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings

from restoration.jobs import runtime
from restoration.jobs.cards import EngineUnavailable
from restoration.jobs.params import SEED, TILE, Param, ParameterError
from restoration.core.xmp import ALGORITHMICALLY_ENHANCED
from restoration.jobs.tasks.base import RunContext, RunOutput, TaskDefinition

SCALE = Param("scale", int, 4, choices=(2, 4), help="Upscaling factor: 2 or 4.")
VARIANTS = ("faithful", "gan")
VARIANT = Param("variant", str, "faithful", choices=VARIANTS,
                help="Which upscaler: 'faithful' (trained on L1: no invented detail, the archive's default) or "
                     "'gan' (fine-tuned with adversarial and feature losses: sharper, invents fine texture).")


def weights_key(task: TaskDefinition, params: Mapping[str, Any]) -> str:
    return f"upscale_x{params['scale']}_{params['variant']}"


def variant_label(params: Mapping[str, Any]) -> str:
    return f"upscale x{params['scale']} {params['variant']}"


def check_size(params: Mapping[str, Any], width: int, height: int) -> None:
    """Refuses an upscale beyond ``GAN_UPSCALE_MAX_PIXELS`` when it is submitted, not after a
    worker has loaded the model."""
    scale = int(params.get("scale") or SCALE.default)
    pixels = width * height * scale * scale
    limit = settings.GAN_UPSCALE_MAX_PIXELS
    if pixels > limit:
        raise ParameterError(
            "scale",
            f"Upscaled x{scale}, this {width} x {height} image would have {pixels / 1e6:.0f} MP, more than the "
            f"limit of {limit / 1e6:.0f} MP (GAN_UPSCALE_MAX_PIXELS)."
            + (" Choose scale 2." if scale > 2 and width * height * 4 <= limit else ""),
        )


def work(params: Mapping[str, Any], width: int, height: int) -> float:
    """The upscaler's cost grows with the pixels it makes: 0.15 restore-megapixel per output
    megapixel (README's bench: 2.06 MP/s out against the restore model's 0.29-0.37 MP/s)."""
    scale = int(params.get("scale") or SCALE.default)
    return width * height * scale * scale / 1e6 * 0.15


def check_card(task: TaskDefinition, params: Mapping[str, Any], path: Path, card: Mapping[str, Any]) -> None:
    scale = (card.get("config") or {}).get("scale")
    if scale is not None and int(scale) != int(params["scale"]):
        raise EngineUnavailable(f"The weights {path} upscale x{scale}, not x{params['scale']}.", field="params")


def run(ctx: RunContext) -> RunOutput:
    import torch

    from gan_engine.inference.wrappers import Upscaler
    upscaler, load_seconds = runtime.cached_model(ctx.weights, lambda: Upscaler(
        ctx.weights.path, device=settings.GAN_DEVICE, tile=settings.GAN_TILE,
        max_output_pixels=settings.GAN_UPSCALE_MAX_PIXELS,
    ))
    upscaler.max_output_pixels = settings.GAN_UPSCALE_MAX_PIXELS
    if upscaler.scale != int(ctx.params["scale"]):
        raise EngineUnavailable(f"The weights {ctx.weights.path} upscale x{upscaler.scale}, not x{ctx.params['scale']}.")
    with torch.inference_mode():
        upscaler.upscale_file(ctx.source, ctx.output, tile=runtime.tile(ctx.params), progress=ctx.progress)
    return RunOutput(device=str(upscaler.device), load_seconds=load_seconds)


TASK = TaskDefinition(
    name="upscale",
    title="Upscale",
    verb="Upscaled",
    version_kind="upscaled",
    params=(TILE, SCALE, VARIANT, SEED),
    runner=run,
    digital_source_type=ALGORITHMICALLY_ENHANCED,
    variants=tuple({"scale": s, "variant": v} for s in SCALE.choices for v in VARIANTS),
    weights_key=weights_key,
    variant_label=variant_label,
    size_check=check_size,
    check_card=check_card,
    work=work,
    example={"scale": 2, "variant": "faithful"},
)
