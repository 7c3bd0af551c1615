"""colorize: the colouriser predicts colours for a grey (or faded) image, keeping its CIE lightness;
with ``reference_version``, the colours of that photograph (a version of this item or another one
the requester may read) are carried over region by region, the automatic colours elsewhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings

from restoration.jobs import runtime
from restoration.jobs.params import SEED, TILE, Param
from restoration.jobs.tasks.base import RunContext, RunOutput, TaskDefinition

STRENGTH = Param("strength", float, 1.0, 0.0, 1.0,
                 help="Saturation of the predicted colours: 1 = the model's colours, 0 = the grey image. "
                      "The lightness of the input is kept at any strength.")


REFERENCE = Param("reference_version", int, None, 1, reference=True,
                  help="Id of a colour photograph's version (of this item or another one you may read) whose "
                       "colours are carried over by semantic correspondence (same place, person, object or "
                       "period; any framing, scale or mirroring). Without it the colours are predicted.")


def run(ctx: RunContext) -> RunOutput:
    import torch

    from gan_engine.inference.wrappers import Colorizer

    colorizer, load_seconds = runtime.cached_model(
        ctx.weights, lambda: Colorizer(ctx.weights.path, device=settings.GAN_DEVICE, tile=settings.GAN_TILE)
    )
    with torch.inference_mode():
        colorizer.colorize_file(ctx.source, ctx.output, tile=runtime.tile(ctx.params),
                                strength=runtime.strength(ctx.params),
                                reference=ctx.references.get("reference_version"), progress=ctx.progress)
    return RunOutput(device=str(colorizer.device), load_seconds=load_seconds)


def work(params: Mapping[str, Any], width: int, height: int) -> float:
    """A quarter of a restore-megapixel per megapixel (README's bench: 1.2 MP/s with a reference,
    3.4 MP/s without, against the restore model's 0.29-0.37 MP/s)."""
    return width * height / 1e6 * 0.25


TASK = TaskDefinition(
    name="colorize",
    title="Colorize",
    verb="Colorized",
    version_kind="colorized",
    params=(TILE, STRENGTH, REFERENCE, SEED),
    reference_phrase="colours from reference",
    runner=run,
    work=work,
    example={"strength": 0.7},
)
