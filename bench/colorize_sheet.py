"""Contact sheets of the colorizer on real photographs: grey | automatic | [reference |] from reference.

    python bench/colorize_sheet.py --set docs --out docs/colorize_contact_sheet.png
    python bench/colorize_sheet.py --set bw --out runs/colorize_bw_sheet.png   # never commit it

``docs``: the two ``real/gray`` photographs (BSD-3-Clause) and the old photographs of
``real/old`` (MIT), without the reference images (ImageNet photographs belong to their
owners; the sheet names them). ``bw``: ten of ``real/bw`` (mostly people), with the
references shown; the data README forbids committing or publishing ``real/bw``, so that sheet
stays in the git-ignored ``runs/``. Each photograph has a colour reference chosen by hand from
``train/color_imagenet`` for its content (a portrait for a portrait, a group for a group, a
river bank for a river bank). Nothing here is scored: there is no ground truth.
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
DOCS_PAIRS = {
    "real/gray/00017_gray.png": "cowboy_hat",
    "real/gray/wolf_gray.jpg": "timber_wolf",
    "real/old/a.png": "bow_tie",
    "real/old/b.png": "groom",
    "real/old/c.png": "hair_spray",
    "real/old/d.png": "lakeside",
    "real/old/e.png": "park_bench",
    "real/old/g.png": "groom",
    "real/old/scratch_a.png": "cowboy_hat",
    "real/old/scratch_b.png": "cowboy_hat",
}
BW_PAIRS = {
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
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--set", choices=["docs", "bw"], default="docs")
    ap.add_argument("--out", default=str(ROOT / "docs" / "colorize_contact_sheet.png"))
    ap.add_argument("--height", type=int, default=200, help="row height in pixels")
    args = ap.parse_args()

    from PIL import Image, ImageDraw
    from tqdm import tqdm

    from gan_engine.data import imageio
    from gan_engine.inference.wrappers import Colorizer

    colorizer = Colorizer(args.weights, device="cpu")
    rows = []
    pairs = DOCS_PAIRS if args.set == "docs" else BW_PAIRS
    show_reference = args.set == "bw"
    for rel, ref_name in tqdm(pairs.items(), desc="photographs"):
        src = DATA / rel
        ref_path = DATA / "train" / "color_imagenet" / f"imagenet_{ref_name}.jpg"
        if not src.is_file() or not ref_path.is_file():
            continue
        rgb = imageio.load_image(src).rgb
        reference = imageio.load_image(ref_path).rgb
        grey = np.repeat(rgb.mean(axis=2, keepdims=True), 3, axis=2) if rgb.ndim == 3 else np.repeat(rgb[..., None], 3, 2)
        auto = colorizer.colorize(rgb)
        from_ref = colorizer.colorize(rgb, reference=reference)
        rows.append((src.name, ref_name, [grey, auto, reference, from_ref] if show_reference else [grey, auto, from_ref]))

    def tile(img: np.ndarray, h: int) -> Image.Image:
        im = Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))
        return im.resize((max(1, round(im.width * h / im.height)), h), Image.LANCZOS)

    h = args.height
    rendered = [(name, ref, [tile(x, h) for x in imgs]) for name, ref, imgs in rows]
    columns = len(rendered[0][2])
    widths = [max(r[2][i].width for r in rendered) for i in range(columns)]
    sheet = Image.new("RGB", (sum(widths) + (columns + 1) * 6, len(rendered) * (h + 18) + 18), "white")
    draw = ImageDraw.Draw(sheet)
    x = 6
    titles = ("grey (input)", "automatic", "reference", "from reference") if show_reference else (
        "grey (input)", "automatic", "from reference (named below)")
    for title, w in zip(titles, widths):
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
