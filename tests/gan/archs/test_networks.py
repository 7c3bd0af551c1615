"""Shapes, configs, receptive radius and trainability of gan_engine.archs (blocks, generators, discriminators)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from gan_engine.archs import DISCRIMINATORS, GENERATORS, build_discriminator, build_generator, count_parameters
from gan_engine.archs.blocks import Reach, clamp_unit, upsample_add
from gan_engine.archs.discriminators import PatchGAN

ROOT = Path(__file__).resolve().parents[3]


def _load_conv_peak():
    spec = importlib.util.spec_from_file_location("conv_peak", ROOT / "bench" / "conv_peak.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- generators: shapes -------------------------------------------------------------------------

@pytest.mark.parametrize("size", [(8, 8), (40, 24), (64, 72)])
def test_unet_keeps_shape_and_range(tiny_unet_config, size):
    model = build_generator("unet", **tiny_unet_config).eval()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape
    assert 0.0 <= y.min() and y.max() <= 1.0
    assert (model.scale, model.size_multiple) == (1, 8)


def test_unet_refuses_a_size_that_is_not_a_multiple(tiny_unet_config):
    model = build_generator("unet", **tiny_unet_config)
    with pytest.raises(ValueError, match="does not match"):
        model(torch.rand(1, 3, 20, 20))


def test_unet_default_budget():
    """The default U-Net stays in the CPU budget of the design notes (0.5-2 M, 100-300 kFLOP/px)."""
    conv_peak = _load_conv_peak()
    model = build_generator("unet").eval()
    assert 0.5e6 <= count_parameters(model) <= 2e6
    assert 100e3 <= conv_peak.model_flops_per_pixel(model) <= 300e3
    assert model.receptive_radius == 74


def test_unet_grey_to_colour_and_sigmoid_heads():
    colour = build_generator("unet", in_ch=1, out_ch=3, base=4).eval()
    sigmoid = build_generator("unet", base=4, head="sigmoid").eval()
    with torch.no_grad():
        assert colour(torch.rand(1, 1, 16, 16)).shape == (1, 3, 16, 16)
        y = sigmoid(torch.rand(1, 3, 16, 16))
    assert 0.0 < y.min() and y.max() < 1.0
    with pytest.raises(ValueError, match="residual head"):
        build_generator("unet", in_ch=3, out_ch=2)


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("size", [(13, 17), (1, 1), (32, 24)])
def test_srvgg_scales_any_size(scale, size):
    model = build_generator("srvgg", scale=scale, num_feat=16, num_conv=3).eval()
    x = torch.rand(1, 3, *size)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 3, size[0] * scale, size[1] * scale)
    assert 0.0 <= y.min() and y.max() <= 1.0
    assert (model.scale, model.size_multiple, model.receptive_radius) == (scale, 1, 5)


def test_srvgg_starts_close_to_its_upsampled_input():
    model = build_generator("srvgg", scale=2, num_feat=16, num_conv=2, upsample="bilinear").eval()
    x = torch.rand(1, 3, 16, 16) * 0.5 + 0.25
    with torch.no_grad():
        y = model(x)
    base = nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert (y - base).abs().mean() < 0.1


def test_generators_run_in_channels_last_with_the_same_result(tiny_unet_config):
    model = build_generator("unet", **tiny_unet_config).eval()
    x = torch.rand(1, 3, 32, 40)
    with torch.inference_mode():
        plain = model(x)
        model.to(memory_format=torch.channels_last)
        fast = model(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(plain, fast, atol=1e-5)


# -- configs and registries ---------------------------------------------------------------------

@pytest.mark.parametrize("name,config", [("unet", {"base": 4}), ("srvgg", {"scale": 2, "num_feat": 16, "num_conv": 2}),
                                         ("tonecolour", {"knots": 8, "width": 4}),
                                         ("globalunet", {"glob": {"width": 4}, "local": {"base": 4}})])
def test_config_is_json_and_rebuilds_the_same_model(name, config):
    model = build_generator(name, **config)
    again = build_generator(name, **json.loads(json.dumps(model.config)))
    assert model.config == again.config
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in again.state_dict().items()}
    assert GENERATORS[name] is type(model)


def test_unknown_names_are_refused():
    known = ", ".join(sorted(GENERATORS))  # every name of the table, sorted
    assert {"unet", "srvgg", "colorizer", "tonecolour", "globalunet", "maskinpainter"} <= set(GENERATORS)
    with pytest.raises(ValueError, match=re.escape(f"unknown generator 'nope'; known: {known}")):
        build_generator("nope")
    with pytest.raises(ValueError, match="unknown discriminator"):
        build_discriminator("unet")
    assert DISCRIMINATORS == {"patchgan": PatchGAN}


# -- receptive radius ---------------------------------------------------------------------------

def _changed_region(model: nn.Module, size: int, pixel: tuple[int, int]) -> torch.Tensor:
    """|model(x) - model(x with one input pixel changed)| > 0, reduced over channels."""
    x = torch.rand(1, 3, size, size) * 0.6 + 0.2  # away from the clamp
    x2 = x.clone()
    x2[..., pixel[0], pixel[1]] += 0.3
    with torch.no_grad():
        return ((model(x) - model(x2)).abs().amax(dim=1)[0] > 0)


def test_unet_receptive_radius_bounds_the_influence_of_a_pixel(tiny_unet_config):
    """Given one changed input pixel, the output changes only within receptive_radius of it,
    and the bound is tight to within one coarse cell (8 pixels)."""
    model = build_generator("unet", **tiny_unet_config).eval()
    radius, centre = model.receptive_radius, (91, 90)
    changed = _changed_region(model, 184, centre)
    ys, xs = torch.nonzero(changed, as_tuple=True)
    reach = max((ys - centre[0]).abs().max(), (xs - centre[1]).abs().max()).item()
    assert reach <= radius
    assert reach >= radius - 8


def test_srvgg_receptive_radius_in_input_pixels():
    model = build_generator("srvgg", scale=4, num_feat=8, num_conv=4).eval()
    radius, centre, scale = model.receptive_radius, (12, 13), 4
    changed = _changed_region(model, 26, centre)
    ys, xs = torch.nonzero(changed, as_tuple=True)
    # high-resolution pixel (Y, X) lies in low-resolution pixel (Y // 4, X // 4)
    reach = max((ys // scale - centre[0]).abs().max(), (xs // scale - centre[1]).abs().max()).item()
    assert reach == radius == 6


def test_reach_bookkeeping():
    r = Reach().conv(3).conv(3, stride=2)  # 1 + 1
    assert (r.before, r.after, r.step) == (2, 2, 2)
    r = r.conv(3).up(2)  # + 2 at step 2, then the upsampling shift of 1 before
    assert (r.before, r.after, r.step) == (5, 4, 1)
    with pytest.raises(ValueError):
        Reach().up(2)


def test_upsample_add_equals_nearest_interpolation_plus_skip():
    coarse, skip = torch.rand(2, 4, 3, 5), torch.rand(2, 4, 6, 10)
    expected = nn.functional.interpolate(coarse, scale_factor=2, mode="nearest") + skip
    assert torch.equal(upsample_add(coarse, skip), expected)
    cl = upsample_add(coarse.contiguous(memory_format=torch.channels_last),
                      skip.contiguous(memory_format=torch.channels_last))
    assert cl.is_contiguous(memory_format=torch.channels_last) and torch.equal(cl, expected)


# -- training behaviour -------------------------------------------------------------------------

def test_clamp_passes_gradient_straight_through_while_training():
    y = torch.tensor([-0.5, 0.5, 1.5], requires_grad=True)
    out = clamp_unit(y)
    out.sum().backward()
    assert out.tolist() == [0.0, 0.5, 1.0]
    assert y.grad.tolist() == [1.0, 1.0, 1.0]


def test_a_few_steps_reduce_the_pixel_loss(tiny_unet_config):
    """Given a fixed noisy/clean pair, when Adam takes a few steps, then L1 decreases."""
    model = build_generator("unet", **tiny_unet_config)
    clean = torch.rand(2, 3, 32, 32)
    noisy = (clean + 0.1 * torch.randn_like(clean)).clamp(0, 1)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(12):
        loss = (model(noisy) - clean).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


# -- discriminator ------------------------------------------------------------------------------

def test_patchgan_shapes_and_features():
    disc = build_discriminator("patchgan", ndf=8)
    cond, image = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    logits = disc(cond, image)
    assert logits.shape == (2, 1, 6, 6)  # 64 -> 32 -> 16 -> 8 -> 7 -> 6
    feats = disc.features(cond, image)
    assert [f.shape[1] for f in feats] == [8, 16, 32, 64]
    again, feats2 = disc.eval().forward_features(cond, image)
    assert len(feats2) == 4 and again.shape == logits.shape


def test_patchgan_resizes_a_low_resolution_condition():
    disc = build_discriminator("patchgan", ndf=8, n_layers=2)
    logits = disc(torch.rand(1, 3, 17, 23), torch.rand(1, 3, 68, 92))  # x4 super-resolution pair
    assert logits.shape[:2] == (1, 1)
    assert logits.shape[2:] == (68 // 4 - 2, 92 // 4 - 2)


def test_patchgan_uses_spectral_norm_and_backpropagates():
    disc = build_discriminator("patchgan", ndf=8)
    assert any("parametrizations" in name for name, _ in disc.named_parameters())
    image = torch.rand(1, 3, 64, 64, requires_grad=True)
    disc(torch.rand(1, 3, 64, 64), image).mean().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    plain = build_discriminator("patchgan", ndf=8, use_spectral_norm=False)
    assert not any("parametrizations" in name for name, _ in plain.named_parameters())


# -- bench helpers --------------------------------------------------------------------------------

def test_flop_counter_counts_conv_macs():
    conv_peak = _load_conv_peak()
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.Conv2d(16, 8, 1))
    assert conv_peak.model_macs(model, torch.rand(1, 3, 10, 10)) == 100 * (16 * 27 + 8 * 16)
    srvgg = build_generator("srvgg", scale=2, num_feat=16, num_conv=1)
    per_lr_pixel = 2 * (16 * 27 + 16 * 144 + 12 * 144)
    assert conv_peak.model_flops_per_pixel(srvgg, size=8) == pytest.approx(per_lr_pixel / 4)


def test_bench_timers_return_positive_rates():
    conv_peak = _load_conv_peak()
    assert conv_peak.measure_conv_peak("cpu", 0.01, channels=8, size=32) > 0
    model = build_generator("srvgg", scale=2, num_feat=8, num_conv=1).eval()
    assert conv_peak.measure_model_throughput(model, size=16, calls=1) > 0


# -- the global tone/colour stage -----------------------------------------------------------------

def _randomised_tonecolour(seed: int = 0, **config):
    from gan_engine.archs.generators import ToneColour

    torch.manual_seed(seed)
    model = ToneColour(**{"knots": 8, "width": 4, **config}).eval()
    with torch.no_grad():
        model.mlp[-1].weight.normal_(0, 0.5)
        model.mlp[-1].bias.normal_(0, 0.5)
    return model


def test_tonecolour_starts_as_the_identity():
    model = build_generator("tonecolour", knots=8, width=4).eval()
    x = torch.rand(2, 3, 50, 37)
    with torch.no_grad():
        assert torch.allclose(model(x), x, atol=1e-6)


def test_tonecolour_curves_are_monotone_and_the_correction_is_pointwise():
    model = _randomised_tonecolour()
    x = torch.rand(1, 3, 64, 48)
    with torch.no_grad():
        params = model.predict(model.thumbnail(x))
        values = model.curves(params)
        assert (values[..., 1:] >= values[..., :-1]).all()
        whole = model.apply(x, params)
        # the same parameters on row blocks or a shuffled image give the same pixels
        blocks = torch.cat([model.apply(x[..., :20, :], params), model.apply(x[..., 20:, :], params)], 2)
        perm = torch.randperm(64 * 48)
        shuffled = model.apply(x.flatten(2)[..., perm].view(1, 3, 64, 48), params).flatten(2)
    assert torch.allclose(whole, blocks, atol=1e-6)
    assert torch.allclose(whole.flatten(2)[..., perm], shuffled, atol=1e-6)
    assert (whole - x).abs().max() > 0.01  # it does correct something once trained (random here)


def test_tonecolour_parameters_depend_on_the_whole_image():
    model = _randomised_tonecolour()
    x = torch.rand(1, 3, 64, 64) * 0.5
    brighter = x.clone()
    brighter[..., :32, :] += 0.4  # change only the top half
    with torch.no_grad():
        a = model.apply(x[..., 32:, :], model.predict(model.thumbnail(x)))
        b = model.apply(x[..., 32:, :], model.predict(model.thumbnail(brighter)))
    assert (a - b).abs().max() > 1e-3  # the bottom half's correction follows the top half


@pytest.mark.slow
def test_tonecolour_learns_a_global_fade():
    """A few hundred steps on faded copies (lifted blacks, lowered whites) undo most of the fade."""
    torch.manual_seed(0)
    model = build_generator("tonecolour", knots=8, width=8)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    def batch():
        clean = torch.rand(8, 3, 1, 1) * torch.linspace(0, 1, 32).view(1, 1, 32, 1) * torch.ones(1, 1, 1, 32)
        clean = clean + 0.1 * torch.rand(8, 3, 32, 32)
        clean = clean.clamp(0, 1)
        black = 0.1 + 0.2 * torch.rand(8, 1, 1, 1)
        return black + (0.85 - black) * clean, clean
    x, y = batch()
    with torch.no_grad():
        before = (model(x) - y).abs().mean().item()
    for _ in range(300):
        x, y = batch()
        loss = (model(x) - y).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, y = batch()
    with torch.no_grad():
        after = (model(x) - y).abs().mean().item()
    assert after < 0.35 * before, (before, after)


def test_globalunet_is_the_global_stage_then_the_unet():
    from gan_engine.archs.generators import GlobalUNet

    model = GlobalUNet(glob={"knots": 8, "width": 4}, local={"base": 4}).eval()
    with torch.no_grad():
        model.glob.mlp[-1].bias.normal_(0, 0.5)
    x = torch.rand(1, 3, 40, 48)
    with torch.no_grad():
        expected = model.local(model.glob(x))
        assert torch.allclose(model(x), expected, atol=1e-6)
    assert (model.size_multiple, model.receptive_radius) == (model.local.size_multiple, model.local.receptive_radius)
    again = GlobalUNet.from_stages(model.glob, model.local).eval()
    with torch.no_grad():
        assert torch.equal(again(x), model(x))
