"""PSNR and colourfulness share of a colorizer under other decodings (temperature x chroma gain).

    python bench/colorize_decoding.py gan_engine/weights/colorize.safetensors ../shared/data/eval/mcmaster 0.38,0.6,1.0 0.5,0.75,1.0,1.4

This is how the decoding of the shipped colorizer was examined (docs/upscale_colorize.md): on
McMaster, not on CBSD68 (the colorize evaluation set). It overrides the model's
``temperature`` and ``chroma`` in memory only and prints one line per pair.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str]) -> int:
    from gan_engine import evaluation, inference

    if len(argv) != 4:
        print(__doc__)
        return 2
    weights, folder, temps, gains = argv
    colorizer = inference.Colorizer(weights, device="cpu")
    for t, k in itertools.product([float(x) for x in temps.split(",")], [float(x) for x in gains.split(",")]):
        colorizer.model.config["temperature"] = t
        colorizer.model.config["chroma"] = k
        r = evaluation.evaluate_colorize(lambda g: colorizer.colorize(g), folder)
        print(f"T {t:.2f} chroma {k:.2f}: grey {r['gray']['psnr']:.2f} dB, model {r['model']['psnr']:.2f} dB, "
              f"colourfulness share {r['colourfulness']['share']:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
