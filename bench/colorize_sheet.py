"""Contact sheet of the colorizer on real black-and-white photographs: grey | automatic | reference | from reference.

    python bench/colorize_sheet.py --out docs/colorize_contact_sheet.png

The photographs are ten of ``../shared/data/real/bw`` (mostly people) and the two of
``real/gray``; each has a colour reference chosen by hand from ``train/color_imagenet`` for
its content (a portrait for a portrait, a group for a group, a river bank for a river bank).
Nothing here is scored: there is no ground truth; the sheet is for looking.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"

# photograph -> reference (train/color_imagenet/imagenet_<name>.jpg), chosen by content.
PAIRS = {
    "real/bw/1901Electrophone.jpg": "hair_spray",
    "real/bw/1920sFamilyPhoto.jpg": "groom",
    "real/bw/1925Girl.jpg": "cowboy_hat",
    "real/bw/1940sBeerRiver.jpg": "park_bench",
    "real/bw/BellyLaughWWI.jpg": "military_uniform",
    "real/bw/JudyGarland.jpg": "wig",
    "real/bw/SchoolKidsConnemaraIreland1901.jpg": "groom",
    "real/bw/abe.jpg": "bow_tie",
    "real/bw/airmen1943.jpg": "lakeside",
    "real/bw/marilyn_woods.jpg": "wig",
    "real/gray/00017_gray.png": "cowboy_hat",
    "real/gray/wolf_gray.png": "timber_wolf",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--out", default=str(ROOT / "docs" / "colorize_contact_sheet.png"))
    ap.add_argument("--height", type=int, default=220, help="row height in pixels")
    args = ap.parse_args()

    from PIL import Image, ImageDraw
    from tqdm import tqdm

    from gan_engine.data import imageio
    from gan_engine.inference.wrappers import Colorizer

    colorizer = Colorizer(args.weights, device="cpu")
    rows = []
    for rel, ref_name in tqdm(PAIRS.items(), desc="photographs"):
        src = DATA / rel
        ref_path = DATA / "train" / "color_imagenet" / f"imagenet_{ref_name}.jpg"
        if not src.is_file() or not ref_path.is_file():
            continue
        rgb = imageio.load_image(src).rgb
        reference = imageio.load_image(ref_path).rgb
        grey = np.repeat(rgb.mean(axis=2, keepdims=True), 3, axis=2) if rgb.ndim == 3 else rgb
        auto = colorizer.colorize(rgb)
        from_ref = colorizer.colorize(rgb, reference=reference)
        rows.append((src.name, ref_name, [grey, auto, reference, from_ref]))

    def tile(img: np.ndarray, h: int) -> Image.Image:
        im = Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))
        return im.resize((max(1, round(im.width * h / im.height)), h), Image.LANCZOS)

    h = args.height
    rendered = [(name, ref, [tile(x, h) for x in imgs]) for name, ref, imgs in rows]
    widths = [max(r[2][i].width for r in rendered) for i in range(4)]
    sheet = Image.new("RGB", (sum(widths) + 5 * 6, len(rendered) * (h + 18) + 18), "white")
    draw = ImageDraw.Draw(sheet)
    x = 6
    for title, w in zip(("grey (input)", "automatic", "reference", "from reference"), widths):
        draw.text((x, 3), title, fill="black")
        x += w + 6
    for r, (name, ref, tiles) in enumerate(rendered):
        y = 18 + r * (h + 18)
        x = 6
        for t, w in zip(tiles, widths):
            sheet.paste(t, (x, y))
            x += w + 6
        draw.text((6, y + h + 2), f"{name}  (reference: imagenet_{ref})", fill="black")
    sheet.save(args.out, optimize=True)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
