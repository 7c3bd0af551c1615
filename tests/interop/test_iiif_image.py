"""IIIF Image API 3: request parsing (pure), cutting from real files, and the HTTP service."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFile

from restoration.core import imaging, pyramid
from restoration.interop.iiif import image as iiif
from restoration.interop.iiif import render as iiif_render
from restoration.interop.iiif import views as iiif_views

from tests.support import BLUE, GREEN, near, quadrants_array, quadrants_bytes, RED, WHITE

NO_LIMITS = iiif.Limits()


# --- Parsing (pure) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "box"),
    [
        ("full", (0, 0, 400, 300)),
        ("square", (50, 0, 300, 300)),
        ("10,20,30,40", (10, 20, 30, 40)),
        ("350,250,100,100", (350, 250, 50, 50)),  # clipped at the edges
        ("pct:50,50,50,50", (200, 150, 200, 150)),
        ("pct:0,0,12.5,10", (0, 0, 50, 30)),
    ],
)
def test_regions(text, box):
    assert iiif.parse_region(text, 400, 300) == iiif.Box(*box)


@pytest.mark.parametrize("text", ["", "0,0,0,10", "0,0,10,0", "400,0,10,10", "0,300,5,5", "1,2,3", "a,b,c,d",
                                  "-1,0,5,5", "pct:0,0,0,5", "pct:x,0,5,5", "pct:100,0,5,5", "everything"])
def test_bad_regions_are_400(text):
    with pytest.raises(iiif.RequestError) as caught:
        iiif.parse_region(text, 400, 300)
    assert caught.value.status == 400 and caught.value.parameter == "region"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max", (400, 300, False)),
        ("200,", (200, 150, False)),
        (",150", (200, 150, False)),
        ("pct:25", (100, 75, False)),
        ("100,100", (100, 100, False)),  # distorted on purpose: allowed
        ("!100,100", (100, 75, False)),
        ("!1000,150", (200, 150, False)),
        ("!1000,1000", (400, 300, False)),  # confined, but never above the region without ^
        ("^800,", (800, 600, True)),
        ("^pct:150", (600, 450, True)),
        ("^!1000,1000", (1000, 750, True)),
        ("^max", (400, 300, False)),
    ],
)
def test_sizes(text, expected):
    assert iiif.parse_size(text, 400, 300, NO_LIMITS) == expected


@pytest.mark.parametrize("text", ["401,", ",301", "pct:101", "500,500", "0,", ",0", "pct:0", ",", "!100,", "big",
                                  "12.5,", "max,"])
def test_bad_sizes_are_400(text):
    with pytest.raises(iiif.RequestError) as caught:
        iiif.parse_size(text, 400, 300, NO_LIMITS)
    assert caught.value.status == 400 and caught.value.parameter == "size"


def test_limits_cap_max_and_refuse_larger_requests():
    limits = iiif.Limits(max_area=100 * 75)
    assert iiif.parse_size("max", 400, 300, limits) == (100, 75, False)
    assert iiif.parse_size("^max", 40, 30, limits) == (100, 75, True)
    with pytest.raises(iiif.RequestError):
        iiif.parse_size("200,", 400, 300, limits)
    width_limit = iiif.Limits(max_width=50, max_height=50)
    assert iiif.parse_size("max", 400, 300, width_limit) == (50, 37, False)


@pytest.mark.parametrize(("text", "expected"), [("0", (False, 0)), ("90", (False, 90)), ("!180", (True, 180)),
                                                ("270.0", (False, 270)), ("360", (False, 0)), ("!0", (True, 0))])
def test_rotations(text, expected):
    assert iiif.parse_rotation(text) == expected


def test_rotation_errors():
    with pytest.raises(iiif.RequestError) as caught:
        iiif.parse_rotation("45")
    assert caught.value.status == 501  # valid IIIF, not implemented
    for text in ("-90", "361", "ninety", "!", "90!"):
        with pytest.raises(iiif.RequestError) as caught:
            iiif.parse_rotation(text)
        assert caught.value.status == 400


def test_quality_and_format():
    assert iiif.parse_quality_format("default.jpg", is_color=True) == ("default", "jpg")
    assert iiif.parse_quality_format("gray.png", is_color=False) == ("gray", "png")
    for text, is_color in (("color.jpg", False), ("sepia.jpg", True), ("default.tif", True), ("default", True),
                           (".jpg", True)):
        with pytest.raises(iiif.RequestError) as caught:
            iiif.parse_quality_format(text, is_color=is_color)
        assert caught.value.status == 400


def test_canonical_form():
    source = iiif.SourceInfo(width=400, height=300, is_color=True, format="PNG")

    def canonical(*segments):
        return iiif.canonical_path(iiif.parse_request(*segments, source, NO_LIMITS), source, NO_LIMITS)

    assert canonical("full", "max", "0", "default.jpg") == "full/max/0/default.jpg"
    assert canonical("pct:0,0,100,100", "400,", "360", "default.jpg") == "full/max/0/default.jpg"
    assert canonical("square", "!150,150", "!90", "gray.png") == "50,0,300,300/150,150/!90/gray.png"
    assert canonical("0,0,10,10", "^20,", "0", "color.webp") == "0,0,10,10/^20,20/0/color.webp"


def test_info_document_tiles_and_sizes():
    source = iiif.SourceInfo(width=3000, height=2000, is_color=False, format="TIFF")
    info = iiif.info_document("https://example.org/iiif/3/7", source, iiif.Limits(max_area=2_000_000), tile=512)
    assert info["tiles"] == [{"type": "Tile", "width": 512, "height": 512, "scaleFactors": [1, 2, 4, 8]}]
    assert [(s["width"], s["height"]) for s in info["sizes"]] == [(375, 250), (750, 500), (1500, 1000)]
    assert info["extraQualities"] == ["gray", "bitonal"] and info["maxArea"] == 2_000_000


# --- Cutting real files ---------------------------------------------------------------------------


def _write(path, array: np.ndarray, fmt: str, **save) -> str:
    Image.fromarray(array).save(path, fmt, **save)
    return str(path)


def _cut(path, region="full", size="max", rotation="0", quality="default.png") -> Image.Image:
    """The direct path: cut from the stored file itself."""
    opener = lambda: Image.open(path)  # noqa: E731
    source = iiif_render.read_source(opener)
    request = iiif.parse_request(region, size, rotation, quality, source, NO_LIMITS)
    picture, _icc = iiif_render.render(opener, request)
    return picture.convert("RGB")


def _cut_from_pyramid(path, region="full", size="max", rotation="0", quality="default.png") -> Image.Image:
    """The usual path: an access copy made (64 px tiles, so small images have several levels), then cut."""
    copy = f"{path}.pyramid.tif"
    built = pyramid.build(path, copy, pyramid.PyramidConfig(tile=64))
    source = iiif.SourceInfo(width=built.width, height=built.height, is_color=built.is_color, format="TIFF")
    request = iiif.parse_request(region, size, rotation, quality, source, NO_LIMITS)
    picture, _icc = iiif_render.render_pyramid(copy, built.levels, request)
    return picture.convert("RGB")


@pytest.fixture(params=["direct", "pyramid"])
def cut(request):
    """Both ways of cutting a request: the same answers are expected of each."""
    return _cut if request.param == "direct" else _cut_from_pyramid


def _corner_colours(picture: Image.Image) -> tuple:
    w, h = picture.size
    return tuple(picture.getpixel((x, y)) for x, y in ((w // 4, h // 4), (3 * w // 4, h // 4), (w // 4, 3 * h // 4),
                                                       (3 * w // 4, 3 * h // 4)))


@pytest.fixture(params=["png", "jpg", "raw.tif", "lzw.tif", "webp"])
def quadrant_file(request, tmp_path) -> str:
    array = quadrants_array(400, 300)
    kind = request.param
    if kind == "png":
        return _write(tmp_path / "q.png", array, "PNG")
    if kind == "jpg":
        return _write(tmp_path / "q.jpg", array, "JPEG", quality=95)
    if kind == "raw.tif":
        return _write(tmp_path / "q.tif", array, "TIFF")
    if kind == "lzw.tif":
        return _write(tmp_path / "q.tif", array, "TIFF", compression="tiff_lzw")
    return _write(tmp_path / "q.webp", array, "WEBP", lossless=True)


def test_regions_show_the_right_quadrant(quadrant_file, cut):
    assert all(near(c, e) for c, e in zip(_corner_colours(cut(quadrant_file)), (RED, GREEN, BLUE, WHITE)))
    top_right = cut(quadrant_file, "200,0,200,150", "100,")
    assert top_right.size == (100, 75) and near(top_right.getpixel((50, 37)), GREEN)
    bottom_left = cut(quadrant_file, "pct:0,50,50,50")
    assert bottom_left.size == (200, 150) and near(bottom_left.getpixel((100, 75)), BLUE)


def test_rotation_and_mirroring_move_the_quadrants(quadrant_file, cut):
    turned = cut(quadrant_file, rotation="90")  # clockwise: the bottom left comes to the top left
    assert turned.size == (300, 400)
    assert all(near(c, e) for c, e in zip(_corner_colours(turned), (BLUE, RED, WHITE, GREEN)))
    mirrored = cut(quadrant_file, rotation="!0")
    assert all(near(c, e) for c, e in zip(_corner_colours(mirrored), (GREEN, RED, WHITE, BLUE)))
    upside_down = cut(quadrant_file, rotation="180")
    assert all(near(c, e) for c, e in zip(_corner_colours(upside_down), (WHITE, BLUE, GREEN, RED)))


def test_qualities(tmp_path):
    path = _write(tmp_path / "q.png", quadrants_array(40, 30), "PNG")
    opener = lambda: Image.open(path)  # noqa: E731
    source = iiif_render.read_source(opener)
    gray, _ = iiif_render.render(opener, iiif.parse_request("full", "max", "0", "gray.png", source, NO_LIMITS))
    bitonal, _ = iiif_render.render(opener, iiif.parse_request("full", "max", "0", "bitonal.png", source, NO_LIMITS))
    assert gray.mode == "L" and bitonal.mode == "1"
    assert gray.getpixel((30, 25)) == 255 and bitonal.getpixel((30, 25)) == 255  # white stays white
    assert set(np.unique(np.asarray(bitonal.convert("L")))) <= {0, 255}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path, orientation, cut):
    """A JPEG stored sideways with an orientation tag is served upright, regions included."""
    upright = quadrants_array(200, 100)
    inverse = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
               5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_270}
    stored = Image.fromarray(upright)
    if orientation != 1:
        stored = stored.transpose(inverse[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "o.jpg"
    stored.save(path, "JPEG", quality=95, exif=exif)
    source = iiif_render.read_source(lambda: Image.open(path))
    assert (source.width, source.height) == (200, 100)
    assert all(near(c, e) for c, e in zip(_corner_colours(cut(path)), (RED, GREEN, BLUE, WHITE)))
    top_right = cut(path, "100,0,100,50", "50,")
    assert top_right.size == (50, 25) and near(top_right.getpixel((25, 12)), GREEN)


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path, cut):
    data = np.full((20, 30), 32896, dtype=np.uint16)  # mid grey in 16 bits
    path = tmp_path / "g16.png"
    Image.fromarray(data).save(path)
    picture = cut(path)
    assert abs(picture.getpixel((5, 5))[0] - 128) <= 1


# --- Decoding at most once ------------------------------------------------------------------------


@pytest.fixture
def decoded_areas(monkeypatch) -> list[tuple[int, int]]:
    """Sizes of every decode of stored pixels (``ImageFile.load`` with tiles still to read)."""
    sizes: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def counting_load(self):
        if self.tile:
            sizes.append(tuple(getattr(self, "_tile_size", None) or self.size))
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    return sizes


def test_jpeg_is_decoded_once_at_a_reduced_scale(tmp_path, decoded_areas):
    path = _write(tmp_path / "big.jpg", quadrants_array(2400, 1600), "JPEG", quality=90)
    thumbnail = _cut(path, "full", "300,")
    assert thumbnail.size == (300, 200)
    assert decoded_areas == [(300, 200)]  # one decode, at 1/8 scale (draft)
    decoded_areas.clear()
    tile = _cut(path, "1200,0,512,512", "512,")
    assert near(tile.getpixel((256, 256)), GREEN)
    assert decoded_areas == [(2400, 1600)]  # a full-resolution tile: one full decode, never two


def test_striped_tiff_reads_only_the_rows_of_the_region(tmp_path, decoded_areas, monkeypatch):
    """An uncompressed, striped TIFF (OpenCV writes 8 KiB strips) is read strip-wise, by the
    archive's one strip reader (``core.imaging``), never decoded whole by Pillow."""
    width, height = 2000, 1500
    path = tmp_path / "master.tif"
    array = quadrants_array(width, height)
    assert cv2.imwrite(str(path), array[..., ::-1], [cv2.IMWRITE_TIFF_COMPRESSION, 1])
    with Image.open(path) as im:
        assert len(im.tile) > 10 and iiif_render._strip_layout(im) is not None
    rows_read: list[int] = []
    read_rows = imaging.read_rows

    def counting(fh, layout, top, bottom):
        rows_read.append(bottom - top)
        return read_rows(fh, layout, top, bottom)

    monkeypatch.setattr(imaging, "read_rows", counting)
    tile = _cut(path, "1024,1024,512,256", "512,")
    assert tile.size == (512, 256) and near(tile.getpixel((400, 200)), WHITE)
    assert sum(rows_read) == 256 and decoded_areas == []  # only the region's rows, once; no Pillow decode
    rows_read.clear()
    small = _cut(path, "full", "500,")
    assert small.size == (500, 375)
    assert all(near(c, e) for c, e in zip(_corner_colours(small), (RED, GREEN, BLUE, WHITE)))
    assert sum(rows_read) == height and len(rows_read) > 1  # every row exactly once, by bands
    # the strip-wise result equals Pillow's own decode of the whole file
    whole = Image.open(path).convert("RGB").crop((1024, 1024, 1536, 1280))
    assert np.array_equal(np.asarray(tile), np.asarray(whole))


def test_png_is_decoded_once(tmp_path, decoded_areas):
    path = _write(tmp_path / "big.png", quadrants_array(1200, 900), "PNG")
    _cut(path, "600,450,300,300", "150,", "90", "gray.jpg")
    assert decoded_areas == [(1200, 900)]


# --- The HTTP service -----------------------------------------------------------------------------


@pytest.fixture
def public_version(store, public_collection):
    return store(quadrants_bytes(400, 300), "PUB-1", collection=public_collection, is_public=True, title="Harbour")


@pytest.fixture
def private_version(store, public_collection):
    return store(quadrants_bytes(400, 300), "PRIV-1", collection=public_collection, is_public=False)


def _image(client, version, path, **headers):
    return client.get(f"/iiif/3/{version.pk}/{path}", **headers)


def _decoded(response) -> Image.Image:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return Image.open(io.BytesIO(body))


def test_info_json_has_the_required_fields(client, public_version):
    response = client.get(f"/iiif/3/{public_version.pk}/info.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    info = json.loads(response.content)
    assert info["@context"] == "http://iiif.io/api/image/3/context.json"
    assert info["id"] == f"http://testserver/iiif/3/{public_version.pk}"
    assert info["type"] == "ImageService3" and info["protocol"] == "http://iiif.io/api/image"
    assert info["profile"] == "level2"
    assert (info["width"], info["height"]) == (400, 300)
    assert info["tiles"][0]["width"] == 512 and info["tiles"][0]["scaleFactors"] == [1]
    assert info["sizes"] == [{"type": "Size", "width": 400, "height": 300}]
    assert info["extraFormats"] == ["webp"] and info["extraQualities"] == ["color", "gray", "bitonal"]
    assert "mirroring" in info["extraFeatures"]
    assert response["Access-Control-Allow-Origin"] == "*"
    jsonld = client.get(f"/iiif/3/{public_version.pk}/info.json", HTTP_ACCEPT="application/ld+json")
    assert jsonld["Content-Type"] == 'application/ld+json;profile="http://iiif.io/api/image/3/context.json"'


def test_base_uri_redirects_to_info_json(client, public_version):
    response = client.get(f"/iiif/3/{public_version.pk}")
    assert response.status_code == 303 and response["Location"] == f"/iiif/3/{public_version.pk}/info.json"


def test_image_requests_return_the_asked_pixels(client, public_version):
    tile = _image(client, public_version, "256,0,144,256/72,/0/default.jpg")  # the viewer's form, an edge tile
    assert tile.status_code == 200 and tile["Content-Type"] == "image/jpeg"
    picture = _decoded(tile)
    assert picture.format == "JPEG" and picture.size == (72, 128)
    assert near(picture.getpixel((36, 30)), GREEN) and near(picture.getpixel((36, 110)), WHITE)
    for path, size in (("full/200,/0/default.jpg", (200, 150)), ("full/,75/0/default.png", (100, 75)),
                       ("full/!100,100/0/default.jpg", (100, 75)), ("full/pct:50/90/default.jpg", (150, 200)),
                       ("square/64,64/0/gray.png", (64, 64))):
        response = _image(client, public_version, path)
        assert response.status_code == 200, (path, response.content)
        assert _decoded(response).size == size, path
    quadrant = _decoded(_image(client, public_version, "200,150,200,150/max/0/default.png"))
    assert quadrant.size == (200, 150) and near(quadrant.convert("RGB").getpixel((100, 75)), WHITE)
    response = _image(client, public_version, "full/max/0/default.jpg")
    assert response["Link"].count("rel=") == 2 and "full/max/0/default.jpg>;rel=\"canonical\"" in response["Link"]
    assert response["Access-Control-Allow-Origin"] == "*" and response["Cache-Control"].startswith("public")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("0,0,0,0/max/0/default.jpg", 400),
        ("999,999,5,5/max/0/default.jpg", 400),
        ("full/800,/0/default.jpg", 400),
        ("full/max/45/default.jpg", 501),
        ("full/max/0/sepia.jpg", 400),
        ("full/max/0/default.bmp", 400),
        ("full/max/0", 400),
        ("full/max/0/default.jpg/extra", 400),
    ],
)
def test_bad_parameters_are_refused_with_a_reason(client, public_version, path, status):
    response = _image(client, public_version, path)
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/plain") and len(response.content.strip()) > 10


def test_unknown_and_private_versions_are_404_for_anonymous(client, public_version, private_version):
    assert client.get("/iiif/3/999999/info.json").status_code == 404
    assert client.get("/iiif/3/999999/full/max/0/default.jpg").status_code == 404
    for path in ("info.json", "full/max/0/default.jpg"):
        assert _image(client, private_version, path).status_code == 404
    assert client.get(f"/iiif/3/{private_version.pk}").status_code == 404


def test_signed_in_users_see_private_versions_without_cors(client, curator, private_version):
    client.force_login(curator)
    response = _image(client, private_version, "full/100,/0/default.jpg")
    assert response.status_code == 200 and _decoded(response).size == (100, 75)
    assert "Access-Control-Allow-Origin" not in response and response["Cache-Control"].startswith("private")


def test_api_token_authenticates_too(client, curator, private_version):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=curator)
    response = _image(client, private_version, "info.json", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200


def test_items_of_private_collections_are_invisible(client, store, private_collection):
    version = store(quadrants_bytes(), "FAM-1", collection=private_collection, is_public=True)
    assert _image(client, version, "info.json").status_code == 404


def test_images_are_cached_and_revalidated(client, public_version, monkeypatch, archive_dirs):
    rendered = []
    real_render = iiif_render.render_pyramid
    monkeypatch.setattr(iiif_render, "render_pyramid", lambda *a, **k: rendered.append(1) or real_render(*a, **k))
    first = _image(client, public_version, "pct:0,0,50,50/100,/0/default.jpg")
    second = _image(client, public_version, "0,0,200,150/100,75/0/default.jpg")  # the same canonical request
    assert first.status_code == second.status_code == 200 and len(rendered) == 1
    assert first["ETag"] == second["ETag"]
    assert _decoded(first).tobytes() == _decoded(second).tobytes()
    cached = list((archive_dirs.var / "cache" / "iiif").rglob("*.jpg"))
    assert len(cached) == 1 and public_version.sha256 in str(cached[0])
    not_modified = _image(client, public_version, "0,0,200,150/100,/0/default.jpg", HTTP_IF_NONE_MATCH=first["ETag"])
    assert not_modified.status_code == 304 and len(rendered) == 1


def test_info_json_sizes_are_all_servable(client, store, public_collection, settings):
    settings.IIIF_TILE_SIZE = 128
    version = store(quadrants_bytes(700, 500), "PUB-BIG", collection=public_collection, is_public=True)
    info = json.loads(client.get(f"/iiif/3/{version.pk}/info.json").content)
    assert info["tiles"][0]["scaleFactors"] == [1, 2, 4, 8]
    for entry in info["sizes"]:
        response = _image(client, version, f"full/{entry['width']},{entry['height']}/0/default.jpg")
        assert _decoded(response).size == (entry["width"], entry["height"])
    # the tiles a viewer asks for at scale factor 4: the region 512 px wide, the output 128
    tile = _image(client, version, "512,0,188,500/47,/0/default.jpg")
    assert _decoded(tile).size == (47, 125)


def test_missing_stored_file_is_a_clear_404(client, public_version, archive_dirs):
    """A lost access copy is made again from the version's file; with that file lost too, 404."""
    from restoration.models import AccessCopy

    first = AccessCopy.objects.get(version=public_version)
    (archive_dirs.media / first.file.name).unlink()
    assert _image(client, public_version, "full/100,/0/default.jpg").status_code == 200
    remade = AccessCopy.objects.get(version=public_version)
    assert remade.pk != first.pk and (archive_dirs.media / remade.file.name).exists()
    (archive_dirs.media / remade.file.name).unlink()
    (archive_dirs.media / public_version.file.name).unlink()
    iiif_views.cache.clear()
    response = _image(client, public_version, "full/max/0/default.jpg")
    assert response.status_code == 404 and b"missing" in response.content


@pytest.mark.parametrize("compression", [None, "tiff_lzw"])
def test_tiff_orientation_is_applied_once(tmp_path, compression, cut):
    """Recent Pillow turns a TIFF page itself while loading; the service must not turn it again."""
    stored = Image.fromarray(quadrants_array(200, 100)).transpose(Image.Transpose.ROTATE_90)  # stored sideways
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "o.tif"
    stored.save(path, "TIFF", exif=exif, **({"compression": compression} if compression else {}))
    source = iiif_render.read_source(lambda: Image.open(path))
    assert (source.width, source.height) == (200, 100)
    upright = cut(path)
    assert upright.size == (200, 100)
    assert all(near(c, e) for c, e in zip(_corner_colours(upright), (RED, GREEN, BLUE, WHITE)))


def test_requests_never_decode_the_stored_file(client, store, public_collection, decoded_areas, monkeypatch):
    """info.json reads the access copy's row; images are cut from the access copy, once."""
    version = store(quadrants_bytes(900, 600), "PUB-ONCE", collection=public_collection, is_public=True)
    iiif_views.cache.clear()
    decoded_areas.clear()
    opened = []
    monkeypatch.setattr(iiif_render, "read_source", lambda *a: opened.append(a))
    assert client.get(f"/iiif/3/{version.pk}/info.json").status_code == 200
    cuts = []
    real = pyramid.read_region
    monkeypatch.setattr(pyramid, "read_region", lambda *a, **k: cuts.append(a[1:3]) or real(*a, **k))
    response = _image(client, version, "450,0,450,300/225,/0/default.jpg")
    assert response.status_code == 200 and cuts == [((450, 0, 450, 300), (225, 150))]
    _image(client, version, "450,0,450,300/225,/0/default.jpg")
    assert len(cuts) == 1  # served from the cache
    assert decoded_areas == [] and opened == []  # Pillow never decoded nor opened the stored file
    assert near(_decoded(response).getpixel((100, 70)), GREEN)


def test_head_requests_and_other_methods(client, public_version):
    assert client.head(f"/iiif/3/{public_version.pk}/info.json").status_code == 200
    assert _image(client, public_version, "full/50,/0/default.jpg").status_code == 200
    assert client.head(f"/iiif/3/{public_version.pk}/full/50,/0/default.jpg").status_code == 200
    assert client.post(f"/iiif/3/{public_version.pk}/info.json").status_code == 405
