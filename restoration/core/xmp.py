"""Embedded XMP labels of derivative files, so a copy found outside the archive says what it is:
made by a trained model (IPTC digital source type), from which original (``dc:source``), by
which model and weights (``dc:description``, ``xmp:CreatorTool``).

The packet is written here, not through exiv2. exiv2 (0.28, pyexiv2's library) reads a leading
``type=...`` in every XMP text value as an array-type prefix, both when a value is set and when a
packet is decoded: an identifier such as ``type=Bogus x`` made the write fail (after the whole
model had run) and ``type=Bag ARC-1`` became an empty ``dc:source`` bag. No exiv2 call can store
such a value, so the packet is built as XML text with every value escaped by the XML rules, and
stored as the PNG's ``iTXt`` chunk with the keyword ``XML:com.adobe.xmp`` (XMP specification,
part 3: "PNG"), before the image data. exiv2, exiftool and any XML reader read it back.

``check_labels`` builds and parses the packet without a file: the worker calls it before it
runs the model, so a value that XML cannot carry (a control character) fails the job at once.

No Django import: these are functions over values and a file path.
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
import zlib
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

# IPTC NewsCodes "digital source type" (https://cv.iptc.org/newscodes/digitalsourcetype/).
COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
)
ALGORITHMICALLY_ENHANCED = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicallyEnhanced"

# Which one a derivative gets is its task's choice (``restoration.jobs.tasks``; docs/jobs.md
# argues each): restoration, colourisation and style transfer put content a model invented into
# a real photograph; an upscaler, or a colour transfer without a model, only enhances what is there.

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_KEYWORD = b"XML:com.adobe.xmp"  # the iTXt keyword the XMP specification gives for PNG
NAMESPACES = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
}
# Characters XML 1.0 cannot carry, even escaped (C0 controls other than tab, newline and
# carriage return; lone surrogates; U+FFFE and U+FFFF).
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class XmpError(ValueError):
    """A label value that cannot be written into an XMP packet (``field`` names the property)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _text(field: str, value: str) -> str:
    """``value`` escaped for XML element content; a carriage return is kept as a character
    reference (XML parsers turn a literal one into a newline)."""
    bad = _NOT_XML.search(value)
    if bad:
        raise XmpError(
            field,
            f"The {field} {value[:80]!r} holds the character U+{ord(bad.group()):04X}, which XMP (XML) cannot "
            "carry; no file with this label can be written.",
        )
    return escape(value).replace("\r", "&#13;")


def packet(*, digital_source_type: str, source_identifier: str, description: str, creator_tool: str) -> str:
    """The XMP packet of a derivative's labels (XML text; raises ``XmpError``)."""
    ns = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NAMESPACES.items() if prefix != "x")
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="{NAMESPACES["x"]}">\n'
        f' <rdf:RDF xmlns:rdf="{NAMESPACES["rdf"]}">\n'
        f'  <rdf:Description rdf:about="" {ns}>\n'
        f"   <Iptc4xmpExt:DigitalSourceType>{_text('digital source type', digital_source_type)}"
        "</Iptc4xmpExt:DigitalSourceType>\n"
        f"   <dc:source>{_text('identifier', source_identifier)}</dc:source>\n"
        f'   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{_text("description", description)}'
        "</rdf:li></rdf:Alt></dc:description>\n"
        f"   <xmp:CreatorTool>{_text('creator tool', creator_tool)}</xmp:CreatorTool>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )


def parse_packet(xml: str) -> dict[str, str]:
    """The four labels of a packet, by their pyexiv2 key (``Xmp.dc.source``, ...; the description
    as plain text), read with the standard XML parser."""
    root = ElementTree.fromstring(xml.encode("utf-8"))
    description = root.find("rdf:RDF/rdf:Description", NAMESPACES)
    if description is None:
        raise ValueError("The XMP packet has no rdf:Description.")

    def text(path: str) -> str:
        element = description.find(path, NAMESPACES)
        return "" if element is None or element.text is None else element.text

    return {
        "Xmp.iptcExt.DigitalSourceType": text("Iptc4xmpExt:DigitalSourceType"),
        "Xmp.dc.source": text("dc:source"),
        "Xmp.dc.description": text("dc:description/rdf:Alt/rdf:li"),
        "Xmp.xmp.CreatorTool": text("xmp:CreatorTool"),
    }


def check_labels(**labels: str) -> None:
    """Raises ``XmpError`` unless these labels (``packet``'s arguments) can be written and read
    back unchanged: called before a job runs its model."""
    given = {
        "Xmp.iptcExt.DigitalSourceType": labels["digital_source_type"],
        "Xmp.dc.source": labels["source_identifier"],
        "Xmp.dc.description": labels["description"],
        "Xmp.xmp.CreatorTool": labels["creator_tool"],
    }
    read = parse_packet(packet(**labels))
    for key, value in given.items():
        if read[key] != value:
            raise XmpError(key, f"{key} {value[:80]!r} would read back as {read[key][:80]!r}.")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _chunks(data: bytes):
    """``(kind, start, end)`` of each chunk of a PNG file's bytes."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("XMP labels are written into PNG files only.")
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        end = position + 12 + length
        yield kind, position, end
        position = end
        if kind == b"IEND":
            return
    raise ValueError("The PNG file ends before its IEND chunk.")


def _is_xmp(data: bytes, start: int, end: int) -> bool:
    return data[start + 8:end - 4].startswith(XMP_KEYWORD + b"\0")


def write_labels(path: str | Path, *, digital_source_type: str, source_identifier: str, description: str,
                 creator_tool: str) -> None:
    """Embed the labels in the PNG file at ``path`` (its XMP ``iTXt`` chunk, replacing any other
    XMP packet), in place: the new file is written beside it and renamed over it."""
    path = Path(path)
    xml = packet(digital_source_type=digital_source_type, source_identifier=source_identifier,
                 description=description, creator_tool=creator_tool)
    # iTXt: keyword, NUL, compression flag 0, method 0, empty language tag, NUL, empty
    # translated keyword, NUL, UTF-8 text.
    itxt = _chunk(b"iTXt", XMP_KEYWORD + b"\0\0\0\0\0" + xml.encode("utf-8"))
    data = path.read_bytes()
    parts = [PNG_SIGNATURE]
    for kind, start, end in _chunks(data):
        if kind == b"iTXt" and _is_xmp(data, start, end):
            continue
        parts.append(data[start:end])
        if kind == b"IHDR":
            parts.append(itxt)  # before any image data, as the XMP specification asks
    fd, temporary = tempfile.mkstemp(prefix=".xmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"".join(parts))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_packet(path: str | Path) -> str | None:
    """The XMP packet embedded in the PNG file at ``path`` (None without one)."""
    data = Path(path).read_bytes()
    for kind, start, end in _chunks(data):
        if kind == b"iTXt" and _is_xmp(data, start, end):
            body = data[start + 8 + len(XMP_KEYWORD) + 1:end - 4]
            compressed, _method = body[0], body[1]
            rest = body[2:]
            rest = rest[rest.index(b"\0") + 1:]  # language tag
            text = rest[rest.index(b"\0") + 1:]  # translated keyword
            return (zlib.decompress(text) if compressed else text).decode("utf-8")
    return None


def read_labels(path: str | Path) -> dict:
    """The file's XMP as pyexiv2 (exiv2) reads it (keys such as ``Xmp.iptcExt.DigitalSourceType``;
    the description as ``{'lang="x-default"': text}``): an independent reader of what
    ``write_labels`` wrote. exiv2 misreads values that start with ``type=``; ``read_packet`` and
    ``parse_packet`` read those."""
    import pyexiv2

    image = pyexiv2.Image(str(path))
    try:
        return image.read_xmp()
    finally:
        image.close()
