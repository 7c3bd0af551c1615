"""restore: the restoration model (global tone/colour stage + U-Net) removes fading, casts,
noise and damage. 16-bit stays 16-bit, grey stays grey, alpha and ICC are kept."""

from __future__ import annotations

from django.conf import settings

from restoration.jobs import runtime
from restoration.jobs.params import SEED, TILE, Param
from restoration.jobs.tasks.base import RunContext, RunOutput, TaskDefinition

STRENGTH = Param("strength", float, 1.0, 0.0, 1.0,
                 help="Blend of the model's output with the input: 1 = the model's output, 0 = the input.")


def run(ctx: RunContext) -> RunOutput:
    import torch

    from gan_engine.inference.wrappers import Restorer

    restorer, load_seconds = runtime.cached_model(
        ctx.weights, lambda: Restorer(ctx.weights.path, device=settings.GAN_DEVICE, tile=settings.GAN_TILE)
    )
    with torch.inference_mode():
        restorer.restore_file(ctx.source, ctx.output, tile=runtime.tile(ctx.params), progress=ctx.progress,
                              strength=runtime.strength(ctx.params))
    return RunOutput(device=str(restorer.device), load_seconds=load_seconds)


TASK = TaskDefinition(
    name="restore",
    title="Restore",
    verb="Restored",
    version_kind="restored",
    params=(TILE, STRENGTH, SEED),
    runner=run,
    example={"strength": 0.8},
)
