"""The XMP packet of derivative files (``restoration.core.xmp``), written into real PNG files.

The end-to-end tests (tests/jobs) read it from stored derivatives; these check the packet's
escaping and its place in the file, with values no identifier can hold (newlines) included.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from restoration.core import xmp


def _png(path, mode: str = "RGB") -> None:
    pixels = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    image = Image.fromarray(pixels, "RGB") if mode == "RGB" else Image.fromarray(pixels[..., 0].astype(np.uint16) * 1000)
    image.save(path, "PNG")


def _labels(identifier: str, description: str = "Restored by model X; not the original.") -> dict[str, str]:
    return {"digital_source_type": xmp.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA, "source_identifier": identifier,
            "description": description, "creator_tool": "gan_engine 1.0"}


@pytest.mark.parametrize("identifier", [
    "type=Bogus x", "type=Bag ARC-1", "line one\nline two", "carriage\rreturn\r\n", '"<&>\'', "x" * 100_000, "  spaced  ",
])
def test_values_are_written_and_read_back_unchanged(tmp_path, identifier):
    path = tmp_path / "d.png"
    _png(path)
    pixels = np.asarray(Image.open(path)).copy()

    xmp.write_labels(path, **_labels(identifier, description=f"About {identifier}."))

    read = xmp.parse_packet(xmp.read_packet(path))
    assert read["Xmp.dc.source"] == identifier and read["Xmp.dc.description"] == f"About {identifier}."
    assert read["Xmp.xmp.CreatorTool"] == "gan_engine 1.0"
    with Image.open(path) as image:  # still a valid PNG, the same pixels
        assert np.array_equal(np.asarray(image), pixels)


def test_a_second_write_replaces_the_packet_and_keeps_16_bits(tmp_path):
    path = tmp_path / "d.png"
    _png(path, mode="I;16")
    xmp.write_labels(path, **_labels("first"))
    xmp.write_labels(path, **_labels("second"))

    assert path.read_bytes().count(xmp.XMP_KEYWORD) == 1
    assert xmp.parse_packet(xmp.read_packet(path))["Xmp.dc.source"] == "second"
    assert xmp.read_labels(path)["Xmp.dc.source"] == "second"  # exiv2 reads it too
    with Image.open(path) as image:
        assert image.mode == "I;16"
    # The packet sits before the image data, as the XMP specification asks.
    data = path.read_bytes()
    assert data.index(xmp.XMP_KEYWORD) < data.index(b"IDAT")


def test_values_xml_cannot_carry_are_refused_before_any_file_is_touched(tmp_path):
    path = tmp_path / "d.png"
    _png(path)
    before = path.read_bytes()
    for value in ("bell\x07", "nul\x00", "non\ufffecharacter"):
        with pytest.raises(xmp.XmpError) as caught:
            xmp.check_labels(**_labels(value))
        assert caught.value.field == "identifier" and "which XMP (XML) cannot carry" in str(caught.value)
        with pytest.raises(xmp.XmpError):
            xmp.write_labels(path, **_labels(value))
    assert path.read_bytes() == before
    xmp.check_labels(**_labels("type=Bogus x"))  # fine


def test_only_png_files_are_labelled(tmp_path):
    path = tmp_path / "d.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="PNG files only"):
        xmp.write_labels(path, **_labels("a"))
    assert path.read_bytes() == buffer.getvalue()
