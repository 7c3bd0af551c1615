"""Conv throughput of this machine, and the conv cost of a model per output pixel.

`measure_conv_peak(device, seconds)` times one large 3x3 convolution (64 -> 64 channels at
512x512, channels_last, inference_mode) and returns GFLOP/s, the ceiling a conv network can
reach here. `model_flops_per_pixel(model)` counts the multiply-accumulates of every Conv2d /
ConvTranspose2d / Linear with forward hooks. FLOPs are counted as 2 x MACs throughout.

``measure_model_throughput(model)`` gives megapixels per second on a 1 MP image.
Run ``python bench/conv_peak.py`` to print all three for the default generators.
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

    Runs two warm-up calls, then timed calls for ``seconds`` (at least three), and reports the
    fastest call: on a machine shared with other jobs that is the closest to what the hardware
    does when this process has the cores.
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
        calls, best, start = 0, float("inf"), time.perf_counter()
        while calls < 3 or time.perf_counter() - start < seconds:
            tick = time.perf_counter()
            conv(x)
            _sync(device)
            best = min(best, time.perf_counter() - tick)
            calls += 1
    return flops / best / 1e9


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


def measure_model_throughput(model: nn.Module, *, size: int = 1024, device: str | torch.device | None = None,
                             calls: int = 3) -> float:
    """Megapixels (of output) per second of ``model`` on one (1, in_ch, size, size) image.

    The model is run as shipped for inference: eval mode, channels_last input, inference_mode;
    prepare the model with ``gan_engine.inference.tiling.prepare_for_inference`` (channels_last weights)
    first. Returns the best of ``calls`` timed calls after one warm-up, which on a shared
    machine is the closest to the uncontended speed.
    """
    param = next(model.parameters())
    device = param.device if device is None else torch.device(device)
    multiple = getattr(model, "size_multiple", 1)
    size = -(-size // multiple) * multiple
    in_ch = getattr(model, "config", {}).get("in_ch", 3)
    x = torch.rand(1, in_ch, size, size, device=device, dtype=param.dtype).contiguous(
        memory_format=torch.channels_last)
    scale = getattr(model, "scale", 1)
    best = float("inf")
    with torch.inference_mode():
        model(x)
        _sync(device)
        for _ in range(calls):
            start = time.perf_counter()
            model(x)
            _sync(device)
            best = min(best, time.perf_counter() - start)
    return (size * scale) ** 2 / best / 1e6


def main() -> None:  # pragma: no cover - a printout
    import argparse
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from gan_engine.archs import build_generator, count_parameters
    from gan_engine.inference.tiling import prepare_for_inference

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate peak and model timings this many times and keep the best of each")
    parser.add_argument("--size", type=int, default=1024, help="side of the square test image (1024: 1 MP)")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"mkldnn {torch.backends.mkldnn.is_available()}")
    for name, cfg in (("unet", {}), ("srvgg", {"scale": 2}), ("srvgg", {"scale": 4})):
        model = prepare_for_inference(build_generator(name, **cfg), device)
        fpp = model_flops_per_pixel(model)
        peak = speed = 0.0
        for _ in range(args.rounds):  # interleaved, so that both see the same machine load
            peak = max(peak, measure_conv_peak(device, 1.0))
            speed = max(speed, measure_model_throughput(model, size=args.size))
        achieved = speed * fpp / 1e3
        print(f"{name} {cfg}: {count_parameters(model) / 1e6:.3f} M params, {fpp / 1e3:.1f} kFLOP per output "
              f"pixel, receptive radius {model.receptive_radius}; {speed:.2f} MP/s at {args.size}^2 input = "
              f"{achieved:.0f} GFLOP/s = {100 * achieved / peak:.0f}% of the conv peak {peak:.0f} GFLOP/s")


if __name__ == "__main__":  # pragma: no cover
    main()
