"""Conv throughput of this machine, and the conv cost of a model per output pixel.

`measure_conv_peak(device, seconds)` times one large 3x3 convolution (64 -> 64 channels at
512x512, channels_last, inference_mode) and returns GFLOP/s, the ceiling a conv network can
reach here. `model_flops_per_pixel(model)` counts the multiply-accumulates of every Conv2d /
ConvTranspose2d / Linear with forward hooks. FLOPs are counted as 2 x MACs throughout.

Run ``python bench/conv_peak.py`` to print both for the default generators.
"""

from __future__ import annotations

import time

import torch
from torch import nn


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_conv_peak(device: str | torch.device = "cpu", seconds: float = 3.0, *, channels: int = 64,
                      size: int = 512, dtype: torch.dtype = torch.float32) -> float:
    """GFLOP/s of a (1, channels, size, size) 3x3 conv, channels_last, bias, under inference_mode.

    Runs warm-up calls first, then as many calls as fit in ``seconds`` (at least three) and
    reports the median-free mean: total FLOPs / total time.
    """
    device = torch.device(device)
    conv = nn.Conv2d(channels, channels, 3, padding=1).to(device=device, dtype=dtype)
    conv = conv.to(memory_format=torch.channels_last).eval()
    x = torch.rand(1, channels, size, size, device=device, dtype=dtype).contiguous(
        memory_format=torch.channels_last)
    flops = 2.0 * channels * channels * 9 * size * size
    with torch.inference_mode():
        for _ in range(2):
            conv(x)
        _sync(device)
        calls, start = 0, time.perf_counter()
        while True:
            conv(x)
            calls += 1
            _sync(device)
            elapsed = time.perf_counter() - start
            if calls >= 3 and elapsed >= seconds:
                break
    return flops * calls / elapsed / 1e9


def model_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates of the Conv2d / ConvTranspose2d / Linear layers for one forward of x."""
    total = 0

    def hook(module: nn.Module, inputs, output) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += output.numel() * k
        elif isinstance(module, nn.ConvTranspose2d):
            # each input element is scattered to out_channels/groups * kh * kw outputs
            k = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
            total += inputs[0].numel() * k
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return total


def model_flops_per_pixel(model: nn.Module, *, size: int = 64, in_ch: int | None = None) -> float:
    """Conv FLOPs (2 x MACs) per *output* pixel, measured on a (1, in_ch, size, size) input.

    ``size`` is rounded up to the model's ``size_multiple``; the output pixel count includes the
    model's ``scale`` (so an x4 SR net is charged per high-resolution pixel).
    """
    multiple = getattr(model, "size_multiple", 1)
    size = -(-size // multiple) * multiple
    in_ch = in_ch or getattr(model, "config", {}).get("in_ch", 3)
    param = next(model.parameters())
    x = torch.rand(1, in_ch, size, size, device=param.device, dtype=param.dtype)
    scale = getattr(model, "scale", 1)
    return 2.0 * model_macs(model, x) / (size * scale) ** 2


def main() -> None:  # pragma: no cover - a printout
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from gan_engine.networks import build_generator

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}")
    print(f"conv peak (64->64 3x3 @512^2, channels_last): {measure_conv_peak(device, 3.0):.1f} GFLOP/s")
    for name, cfg in (("unet", {}), ("srvgg", {"scale": 2}), ("srvgg", {"scale": 4})):
        model = build_generator(name, **cfg).to(device).eval()
        params = sum(p.numel() for p in model.parameters())
        fpp = model_flops_per_pixel(model)
        print(f"{name} {cfg}: {params / 1e6:.3f} M params, {fpp / 1e3:.1f} kFLOP per output pixel, "
              f"receptive radius {model.receptive_radius}")


if __name__ == "__main__":  # pragma: no cover
    main()
