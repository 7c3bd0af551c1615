"""restore: the restoration model (global tone/colour stage + U-Net) removes fading, casts,
noise and damage. 16-bit stays 16-bit, grey stays grey, alpha and ICC are kept.

With ``repair_damage`` the damage stage (detector and inpainter, docs/damage.md) repaints
scratches, cracks, dust and tears first, and the job keeps its mask (8-bit grey PNG, 255 = a
repainted pixel) as a companion version beside the result, so a curator can see what was painted
over (the item page's viewer overlays it).
"""

from __future__ import annotations

from django.conf import settings

from restoration.jobs import runtime
from restoration.jobs.params import SEED, TILE, Param
from restoration.jobs.tasks.base import Companion, RunContext, RunOutput, TaskDefinition

STRENGTH = Param("strength", float, 1.0, 0.0, 1.0,
                 help="Blend of the model's output with the input: 1 = the model's output, 0 = the input.")
# Off by default (docs/damage.md: the detector also repaints bright details). Added after restore
# jobs were recorded: left out of the recipe while false, so their keys stay valid.
REPAIR_DAMAGE = Param("repair_damage", bool, False, recipe_at_default=False,
                      help="Detect scratches, cracks, dust and tears and repaint them before restoring; "
                           "the damage mask is kept beside the result.")
MASK = Companion("damage_mask", "damage_mask", "damage-mask")  # a VersionKind.DAMAGE_MASK version


def run(ctx: RunContext) -> RunOutput:
    import torch

    from gan_engine.inference.wrappers import Restorer

    repair = bool(ctx.params.get("repair_damage"))
    weights = settings.GAN_WEIGHTS
    restorer, load_seconds = runtime.cached_model(
        ctx.weights,
        lambda: Restorer(ctx.weights.path, device=settings.GAN_DEVICE, tile=settings.GAN_TILE, repair_damage=repair,
                         detector=weights.get("damage_detector"), inpainter=weights.get("damage_inpainter")),
        variant="repair_damage" if repair else "",
    )
    mask = ctx.workdir / "damage-mask.png" if repair else None
    with torch.inference_mode():
        restorer.restore_file(ctx.source, ctx.output, tile=runtime.tile(ctx.params), progress=ctx.progress,
                              strength=runtime.strength(ctx.params), mask_out=mask)
    return RunOutput(device=str(restorer.device), load_seconds=load_seconds,
                     companions={MASK.name: mask} if mask is not None else {})


TASK = TaskDefinition(
    name="restore",
    title="Restore",
    verb="Restored",
    version_kind="restored",
    params=(TILE, STRENGTH, REPAIR_DAMAGE, SEED),
    runner=run,
    companions=(MASK,),
    example={"strength": 0.8},
)
