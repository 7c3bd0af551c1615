"""gan_engine.data.luma: one home for the BT.601 weights, below every layer that uses them."""

import subprocess
import sys

import numpy as np

from gan_engine.data.luma import LUMA, LUMA_WEIGHTS
from gan_engine.evaluation import metrics


def test_one_definition_shared_with_the_metrics():
    assert metrics.LUMA is LUMA and metrics.LUMA_WEIGHTS is LUMA_WEIGHTS
    assert LUMA.dtype == np.float32 and abs(float(LUMA.sum()) - 1.0) < 1e-6


def test_data_does_not_import_evaluation():
    code = ("import sys; import gan_engine.data.imageio, gan_engine.data.degradations.pipeline, "
            "gan_engine.data.pairs, gan_engine.data.damage; "
            "print(sorted(m for m in sys.modules if m.startswith('gan_engine.evaluation')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
