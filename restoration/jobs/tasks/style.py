"""style: the style of a reference image (methods color and optimize) or of the trained style
model (feedforward). The reference is a version of this item or another one the requester may
read (``reference_version``); color and optimize need no weights file, so the description of
the method (and of the feature network) stands for the weights."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings

from restoration.jobs import runtime
from restoration.jobs.cards import ENGINE_NAME, EngineUnavailable, engine_version, file_sha256
from restoration.jobs.params import SEED, TILE, Param, ParameterError
from restoration.core.xmp import ALGORITHMICALLY_ENHANCED
from restoration.jobs.tasks.base import RunContext, RunOutput, TaskDefinition

METHODS = ("color", "optimize", "feedforward")
METHOD = Param("method", str, "color", choices=METHODS,
               help="'color': colour and tone of the reference (Lab statistics; seconds, no texture moved); "
                    "'optimize': Gatys optimisation of the image against the reference's feature statistics "
                    "(textures too; minutes); 'feedforward': the trained style model (GAN_WEIGHTS['style']), "
                    "whose reference is built into its weights.")
REFERENCE = Param("reference_version", int, None, 1, reference=True,
                  help="Id of a version (of this item or another one you may read) whose style is "
                       "transferred. Required by the methods color and optimize; refused by feedforward.")
STRENGTH = Param("strength", float, 1.0, 0.0, 1.0,
                 help="Blend of the styled image with the input: 1 = fully styled, 0 = the input.")
# gan_engine.inference.style.StyleOptimizeConfig().steps (a test checks they agree; importing it here would
# import torch in the web process).
STEPS_DEFAULT = 200
STEPS = Param("steps", int, None, 1, 1000,
              help=f"Optimiser steps of the method optimize (default {STEPS_DEFAULT}); refused by the "
                   f"other methods.")
METHOD_NAMES = {
    "color": "Lab colour and tone transfer (Reinhard et al. 2001)",
    "optimize": "Gatys et al. 2016 optimisation of the image",
}


def cross_check(params: dict[str, Any]) -> dict[str, Any]:
    method = params["method"]
    if method in ("color", "optimize") and params["reference_version"] is None:
        raise ParameterError(
            "reference_version",
            f"reference_version is required for the style method {method}: the id of the version whose "
            f"style is transferred.",
        )
    if method == "feedforward" and params["reference_version"] is not None:
        raise ParameterError(
            "reference_version",
            "The style method feedforward takes no reference_version: its reference is built into the "
            "trained style model. Leave it out, or use the method color or optimize.",
        )
    if method == "optimize":
        if params["steps"] is None:
            params["steps"] = STEPS_DEFAULT
    elif params["steps"] is not None:
        raise ParameterError("steps", f"steps applies to the style method optimize only, not to {method}.")
    return params


def weights_key(task: TaskDefinition, params: Mapping[str, Any]) -> str | None:
    return "style" if params["method"] == "feedforward" else None


def variant_label(params: Mapping[str, Any]) -> str:
    return f"style ({params['method']})"


def feature_network() -> dict[str, Any]:
    """The feature network the method optimize would use now (no torch needed)."""
    path = settings.GAN_VGG19_WEIGHTS
    if not path:
        return {"kind": "random-multiscale", "seed": 0}
    path = Path(path)
    if not path.is_file():
        raise EngineUnavailable(f"No feature network for style (optimize): GAN_VGG19_WEIGHTS {path} does not exist.",
                                field="params")
    return {"kind": "vgg19", "weights_file": path.name, "weights_sha256": file_sha256(path)}


def method_card(task: TaskDefinition, params: Mapping[str, Any]) -> dict[str, Any]:
    """The description of a method without weights (its checksum stands for the weights)."""
    method = params["method"]
    card: dict[str, Any] = {
        "task": task.name, "method": method, "algorithm": METHOD_NAMES[method], "weights": None,
        "engine": f"{ENGINE_NAME} {engine_version()}",
    }
    if method == "optimize":
        card["feature_network"] = feature_network()
    return card


def method_ready(params: Mapping[str, Any]) -> bool:
    if params.get("method") == "optimize" and settings.GAN_VGG19_WEIGHTS:
        return Path(settings.GAN_VGG19_WEIGHTS).is_file()
    return True


def source_type(params: Mapping[str, Any]) -> str:
    """The method color is a global colour and tone map that no trained model takes part in."""
    if params.get("method") == "color":
        return ALGORITHMICALLY_ENHANCED
    return TASK.digital_source_type


def run(ctx: RunContext) -> RunOutput:
    import torch

    from gan_engine.devices import resolve_device
    from gan_engine.inference import style

    method = ctx.params["method"]
    strength = runtime.strength(ctx.params)
    if method == "feedforward":
        stylizer, load_seconds = runtime.cached_model(
            ctx.weights, lambda: style.Stylizer(ctx.weights.path, device=settings.GAN_DEVICE, tile=settings.GAN_TILE)
        )
        with torch.inference_mode():
            stylizer.stylize_file(ctx.source, ctx.output, strength=strength, tile=runtime.tile(ctx.params),
                                  progress=ctx.progress)
        return RunOutput(device=str(stylizer.device), load_seconds=load_seconds)
    reference = ctx.references.get("reference_version")
    if reference is None:
        raise ValueError(f"The style method {method} needs a reference image.")
    if method == "color":  # numpy only: no model, no device
        style.stylize_file(ctx.source, ctx.output, method="color", reference=reference, strength=strength,
                           progress=ctx.progress)
        return RunOutput(device="cpu")
    runtime.configure_torch()
    device = str(resolve_device(settings.GAN_DEVICE))
    vgg = settings.GAN_VGG19_WEIGHTS
    config = style.StyleOptimizeConfig(steps=int(ctx.params["steps"]), device=device, progress=False,
                                       seed=int(ctx.params.get("seed") or 0), feature_weights=str(vgg) if vgg else None)
    style.stylize_file(ctx.source, ctx.output, method="optimize", reference=reference, config=config,
                       strength=strength, device=device, progress=ctx.progress)
    return RunOutput(device=device)


def work(params: Mapping[str, Any], width: int, height: int) -> float:
    """The optimize method runs its feature network forward and back once per step: a tenth of a
    restore-megapixel per step and megapixel (a rough figure); color and feedforward, one pass."""
    megapixels = width * height / 1e6
    if params.get("method") == "optimize":
        return megapixels * int(params.get("steps") or STEPS_DEFAULT) / 10
    return megapixels


TASK = TaskDefinition(
    name="style",
    title="Style transfer",
    verb="Styled",
    version_kind="styled",
    params=(TILE, METHOD, REFERENCE, STRENGTH, STEPS, SEED),
    runner=run,
    variants=tuple({"method": m} for m in METHODS),
    weights_key=weights_key,
    variant_label=variant_label,
    cross_check=cross_check,
    source_type_for=source_type,
    method_card=method_card,
    method_ready=method_ready,
    engine_modules=("gan_engine.inference.style",),
    work=work,
    action_params={"method": "feedforward"},
    action_title="Style transfer with the trained style model",
    example={"method": "color", "reference_version": 12},
    reference_phrase="style of reference",
)
