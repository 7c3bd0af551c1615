"""Read a TensorFlow Lite file into plain float arrays: the operators in execution order, each
with its options and its constant inputs dequantised.

Used once, by the converter (:mod:`gan_engine.pretrained.mobilenet`), to turn the pretrained
networks in ``../shared/models`` into ordinary PyTorch weights. The pure-Python ``tflite``
package parses the FlatBuffer; nothing here runs TensorFlow.

Dequantisation follows the TFLite quantisation spec: ``real = scale * (q - zero_point)``, with
one scale per tensor or one per channel along ``quantized_dimension`` (int8 convolutions carry
per-output-channel scales; int32 biases carry ``input_scale * weight_scale``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gan_engine.errors import GanEngineError

__all__ = ["TFLiteError", "TFLiteOp", "read_ops"]


class TFLiteError(GanEngineError, ValueError):
    """A file that is not a TFLite model, or one with an operator the reader does not know."""


@dataclass
class TFLiteOp:
    """One operator: its name (``"CONV_2D"``...), options and dequantised constant inputs.

    ``weights`` holds the constant inputs in their TFLite layout (convolutions OHWI, depthwise
    1HWO), float32. ``inputs``/``outputs`` are tensor indices, so a caller can follow the graph.
    """

    name: str
    inputs: list[int]
    outputs: list[int]
    weights: list[np.ndarray | None] = field(default_factory=list)
    stride: tuple[int, int] = (1, 1)
    padding: str = "SAME"
    activation: str = "NONE"
    output_shape: tuple[int, ...] = ()


_NUMPY_TYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 9: np.int8, 4: np.int64}
_ACTIVATIONS = {0: "NONE", 1: "RELU", 3: "RELU6"}


def _dequantise(tensor, raw: np.ndarray) -> np.ndarray:
    q = tensor.Quantization()
    if q is None or q.ScaleLength() == 0:
        return raw.astype(np.float32)
    scale = q.ScaleAsNumpy().astype(np.float64)
    zero = q.ZeroPointAsNumpy().astype(np.float64) if q.ZeroPointLength() else np.zeros_like(scale)
    values = raw.astype(np.float64)
    if scale.size > 1:  # per channel along quantized_dimension
        shape = [1] * values.ndim
        shape[q.QuantizedDimension()] = scale.size
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return ((values - zero) * scale).astype(np.float32)


def read_ops(path: str | Path) -> list[TFLiteOp]:
    """The operators of the first subgraph of a ``.tflite`` file, in execution order."""
    import tflite  # a converter-only dependency: the runtime never reads TFLite files

    data = Path(path).read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise TFLiteError(f"{path}: not a TFLite model (no TFL3 identifier)")
    model = tflite.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)
    names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    ops: list[TFLiteOp] = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "UNKNOWN")
        inputs = [int(op.Inputs(j)) for j in range(op.InputsLength())]
        outputs = [int(op.Outputs(j)) for j in range(op.OutputsLength())]
        item = TFLiteOp(name=name, inputs=inputs, outputs=outputs)
        out = graph.Tensors(outputs[0])
        item.output_shape = tuple(int(s) for s in out.ShapeAsNumpy()) if out.ShapeLength() else ()
        for t_index in inputs:
            if t_index < 0:
                item.weights.append(None)
                continue
            tensor = graph.Tensors(t_index)
            buf = model.Buffers(tensor.Buffer())
            if buf is None or buf.DataLength() == 0:
                item.weights.append(None)  # an activation, not a constant
                continue
            dtype = _NUMPY_TYPES.get(tensor.Type())
            if dtype is None:
                raise TFLiteError(f"{path}: tensor type {tensor.Type()} not supported")
            raw = np.frombuffer(buf.DataAsNumpy().tobytes(), dtype=dtype).reshape(tensor.ShapeAsNumpy())
            item.weights.append(_dequantise(tensor, raw))
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            table = op.BuiltinOptions()
            opts = (tflite.Conv2DOptions() if name == "CONV_2D" else tflite.DepthwiseConv2DOptions())
            opts.Init(table.Bytes, table.Pos)
            item.stride = (int(opts.StrideH()), int(opts.StrideW()))
            item.padding = "SAME" if opts.Padding() == tflite.Padding.SAME else "VALID"
            item.activation = _ACTIVATIONS.get(opts.FusedActivationFunction(), "OTHER")
        ops.append(item)
    return ops


def input_quantisation(path: str | Path) -> tuple[float, int]:
    """(scale, zero point) of the model's input tensor: how it expects pixels to be coded."""
    import tflite

    model = tflite.Model.GetRootAsModel(Path(path).read_bytes(), 0)
    graph = model.Subgraphs(0)
    q = graph.Tensors(graph.Inputs(0)).Quantization()
    return float(q.ScaleAsNumpy()[0]), int(q.ZeroPointAsNumpy()[0])
