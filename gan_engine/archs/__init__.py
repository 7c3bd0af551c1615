"""Networks: the generators and discriminators, their blocks, and the feature (loss) network.

- ``blocks``: the small named blocks and the receptive-field bookkeeping (``Reach``);
- ``generators``: the image-to-image networks (U-Net, SRVGG, colorizer, global tone/colour stage);
- ``discriminators``: the conditional PatchGAN;
- ``damage``: the damage detector's configuration and the mask-conditioned inpainter;
- ``colorizer``: the semantic colorizer (ImageNet MobileNetV2 encoder, decoder over ab bins);
- ``features``: the VGG19-layout feature network of the perceptual and style losses.

This module is the one table of architectures: a checkpoint's card names its architecture by a
key of ``GENERATORS`` or ``DISCRIMINATORS``, and ``build_generator`` / ``build_discriminator``
rebuild it from that key and the card's config.
"""

from __future__ import annotations

from torch import nn

from gan_engine.archs.colorizer import SemanticColorizer
from gan_engine.archs.damage import MaskInpainter
from gan_engine.archs.discriminators import PatchGAN
from gan_engine.archs.generators import SRVGG, Colorizer, GlobalUNet, ToneColour, UNet
from gan_engine.errors import InvalidInputError

__all__ = ["GENERATORS", "DISCRIMINATORS", "build_generator", "build_discriminator", "count_parameters", "arch_name"]

GENERATORS: dict[str, type[nn.Module]] = {"unet": UNet, "srvgg": SRVGG, "colorizer": Colorizer,
                                         "tonecolour": ToneColour, "globalunet": GlobalUNet, "maskinpainter": MaskInpainter,
                                         "semantic-colorizer": SemanticColorizer}
DISCRIMINATORS: dict[str, type[nn.Module]] = {"patchgan": PatchGAN}


def _build(table: dict[str, type[nn.Module]], kind: str, name: str, config: dict) -> nn.Module:
    try:
        cls = table[name]
    except KeyError:
        raise InvalidInputError(f"unknown {kind} {name!r}; known: {', '.join(sorted(table))}") from None
    return cls(**config)


def build_generator(name: str, **config) -> nn.Module:
    """GENERATORS[name](**config); ValueError for an unknown name."""
    return _build(GENERATORS, "generator", name, config)


def build_discriminator(name: str, **config) -> nn.Module:
    """DISCRIMINATORS[name](**config); ValueError for an unknown name."""
    return _build(DISCRIMINATORS, "discriminator", name, config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def arch_name(model: nn.Module) -> str:
    """The registry name of a model built from GENERATORS or DISCRIMINATORS."""
    name = getattr(model, "arch", None)
    if name in GENERATORS or name in DISCRIMINATORS:
        return name
    raise ValueError(f"{type(model).__name__} is not a gan_engine architecture")
