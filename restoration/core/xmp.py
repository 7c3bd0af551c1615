"""Embedded XMP labels of derivative files (pyexiv2), so a copy found outside the archive says
what it is: made by a trained model (IPTC digital source type), from which original
(``dc:source``), by which model and weights (``dc:description``, ``xmp:CreatorTool``).

No Django import: these are functions over a file path.
"""

from __future__ import annotations

from pathlib import Path

# IPTC NewsCodes "digital source type" (https://cv.iptc.org/newscodes/digitalsourcetype/).
COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
)
ALGORITHMICALLY_ENHANCED = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicallyEnhanced"

# Which one a derivative gets is its task's choice (``restoration.jobs.tasks``; docs/jobs.md
# argues each): restoration, colourisation and style transfer put content a model invented into
# a real photograph; an upscaler, or a colour transfer without a model, only enhances what is there.


def write_labels(path: str | Path, *, digital_source_type: str, source_identifier: str, description: str,
                 creator_tool: str) -> None:
    """Embed the labels in the image file at ``path`` (PNG: an iTXt XMP packet), in place."""
    import pyexiv2

    image = pyexiv2.Image(str(path))
    try:
        image.modify_xmp({
            "Xmp.iptcExt.DigitalSourceType": digital_source_type,
            "Xmp.dc.source": source_identifier,
            "Xmp.dc.description": {'lang="x-default"': description},
            "Xmp.xmp.CreatorTool": creator_tool,
        })
    finally:
        image.close()


def read_labels(path: str | Path) -> dict:
    """The file's XMP as pyexiv2 reads it (keys such as ``Xmp.iptcExt.DigitalSourceType``)."""
    import pyexiv2

    image = pyexiv2.Image(str(path))
    try:
        return image.read_xmp()
    finally:
        image.close()
