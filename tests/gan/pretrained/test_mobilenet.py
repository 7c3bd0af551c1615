"""The TFLite -> PyTorch converter of the ImageNet MobileNetV2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gan_engine.pretrained import mobilenet
from gan_engine.pretrained.tflite_reader import TFLiteError, read_ops

MODELS = Path(__file__).resolve().parents[3].parent / "shared" / "models" / "coral"
TFLITE = MODELS / "mobilenet_v2_1.0_224_quant.tflite"
IMAGENET = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "train" / "color_imagenet"

needs_models = pytest.mark.skipif(not TFLITE.is_file(), reason="../shared/models is absent")


def test_reader_refuses_a_file_that_is_not_tflite(tmp_path):
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    with pytest.raises(TFLiteError, match="not a TFLite model"):
        read_ops(bad)


def test_same_padding_is_asymmetric_like_tensorflow():
    # A 3x3 stride-2 conv on a 4x4 input: TF pads one row/column at the bottom/right only,
    # so output (0, 0) covers input rows/cols 0..2 (not -1..1).
    conv = mobilenet.SameConv(1, 1, 3, stride=2, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0, 0] = 1.0  # picks the window's top-left pixel
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    y = conv(x)
    assert y.shape[-2:] == (2, 2)
    assert y[0, 0].tolist() == [[0.0, 2.0], [8.0, 10.0]]


def test_feature_taps_have_the_documented_shapes():
    net = mobilenet.MobileNetV2(with_head=False)
    feats = net.features(torch.rand(1, 3, 64, 96))
    for name, stride in (("s2", 2), ("s4", 4), ("s8", 8), ("s16", 16), ("s32", 32)):
        assert feats[name].shape == (1, mobilenet.TAP_CHANNELS[name], 64 // stride, 96 // stride)


@needs_models
@pytest.mark.slow
def test_converter_reproduces_the_tflite_network_on_imagenet_photographs():
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    from PIL import Image

    if not IMAGENET.is_dir():
        pytest.skip("../shared/data is absent")
    net = mobilenet.MobileNetV2()
    net.load_state_dict(mobilenet.convert(TFLITE))
    net.eval()
    interp = litert.Interpreter(str(TFLITE))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    files = sorted(IMAGENET.glob("*.jpg"))[::150][:6]
    assert len(files) >= 4
    for f in files:
        a = np.asarray(Image.open(f).convert("RGB").resize((224, 224), Image.BILINEAR))
        interp.set_tensor(inp["index"], a[None])
        interp.invoke()
        ref = interp.get_tensor(out["index"])[0].astype(np.float32) * out["quantization"][0]
        with torch.no_grad():
            ours = torch.softmax(net.classify(torch.from_numpy(a.copy()).permute(2, 0, 1)[None] / 255.0), 1)[0].numpy()
        assert ours.argmax() == ref.argmax(), f.name
        assert np.corrcoef(ours, ref)[0, 1] > 0.98, f.name


@needs_models
def test_load_rejects_a_file_without_the_weights(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "m.safetensors"
    save_file({"stem.weight": torch.zeros(32, 3, 3, 3)}, str(path))
    with pytest.raises(mobilenet.MobileNetWeightsError, match="missing"):
        mobilenet.load(path)
    with pytest.raises(mobilenet.MobileNetWeightsError, match="not found"):
        mobilenet.load(tmp_path / "absent.safetensors")
