"""IIIF Presentation 3: item manifests (a Choice of the versions, AI labels) and collections."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from tests.support import quadrants_bytes, WEIGHTS_SHA256
from restoration.models import VersionKind
from restoration.core import services

CONTEXT = "http://iiif.io/api/presentation/3/context.json"


def _get(client, url, **headers) -> dict:
    response = client.get(url, **headers)
    assert response.status_code == 200, response.content
    return json.loads(response.content)


@pytest.fixture
def restored_item(store, restore, public_collection):
    original = store(
        quadrants_bytes(400, 300), "ARC-0001", collection=public_collection, is_public=True,
        title="Harbour, ca. 1920", creator="J. Smith", date="ca. 1920", subject="harbours; ships",
        description="Ships at the quay.", rights="http://rightsstatements.org/vocab/NoC-US/1.0/",
    )
    derivative = restore(original)
    return original, derivative


def test_manifest_has_one_canvas_with_a_choice_of_versions(client, restored_item):
    original, derivative = restored_item
    manifest = _get(client, "/iiif/3/items/ARC-0001/manifest.json")
    assert manifest["@context"] == CONTEXT and manifest["type"] == "Manifest"
    assert manifest["id"] == "http://testserver/iiif/3/items/ARC-0001/manifest.json"
    assert manifest["label"] == {"none": ["Harbour, ca. 1920"]}
    [canvas] = manifest["items"]
    assert canvas["type"] == "Canvas" and (canvas["width"], canvas["height"]) == (400, 300)
    [page] = canvas["items"]
    [annotation] = page["items"]
    assert annotation["type"] == "Annotation" and annotation["motivation"] == "painting"
    assert annotation["target"] == canvas["id"]
    body = annotation["body"]
    assert body["type"] == "Choice" and len(body["items"]) == 2
    first, second = body["items"]
    assert first["label"] == {"en": ["Original"]}  # the preferred version (the original) is the default
    for entry, version in ((first, original), (second, derivative)):
        assert entry["type"] == "Image" and entry["format"] == "image/jpeg"
        service = f"http://testserver/iiif/3/{version.pk}"
        assert entry["id"] == f"{service}/full/max/0/default.jpg"
        assert entry["service"] == [{"id": service, "type": "ImageService3", "profile": "level2"}]
        assert (entry["width"], entry["height"]) == (version.width, version.height)


def test_ai_made_versions_carry_the_visible_label(client, restored_item):
    _original, derivative = restored_item
    manifest = _get(client, "/iiif/3/items/ARC-0001/manifest.json")
    label = manifest["items"][0]["items"][0]["items"][0]["body"]["items"][1]["label"]["en"][0]
    made = derivative.events.get(event_type="modification").timestamp
    date = timezone.localdate(made).isoformat()  # the day in the archive's time zone, as the item page says
    assert label == f"Restored by model restore-unet-tiny, weights {WEIGHTS_SHA256[:12]}…, on {date}; not the original"
    metadata = {entry["label"]["en"][0]: entry["value"]["none"][0] for entry in manifest["metadata"]}
    assert metadata[f"Version {derivative.pk} (restored)"] == label


def test_dublin_core_and_rights(client, restored_item):
    manifest = _get(client, "/iiif/3/items/ARC-0001/manifest.json")
    metadata = {entry["label"]["en"][0]: entry["value"]["none"][0] for entry in manifest["metadata"]}
    assert metadata["Identifier"] == "ARC-0001" and metadata["Creator"] == "J. Smith"
    assert metadata["Date"] == "ca. 1920" and metadata["Subject"] == "harbours; ships"
    assert metadata["Collection"] == "Harbour prints"
    assert manifest["summary"] == {"none": ["Ships at the quay."]}
    assert manifest["rights"] == "http://rightsstatements.org/vocab/NoC-US/1.0/"
    assert "requiredStatement" not in manifest  # the rights URI once, not twice
    assert manifest["partOf"][0]["id"] == "http://testserver/iiif/3/collections/harbour/collection.json"
    assert "oai?verb=GetRecord" in manifest["seeAlso"][0]["id"]
    assert manifest["thumbnail"][0]["id"].endswith("/full/256,192/0/default.jpg")


def test_free_text_rights_stay_out_of_the_rights_property(client, store, public_collection):
    store(quadrants_bytes(), "ARC-0002", collection=public_collection, is_public=True, rights="All rights reserved.")
    manifest = _get(client, "/iiif/3/items/ARC-0002/manifest.json")
    assert "rights" not in manifest
    assert manifest["requiredStatement"] == {"label": {"en": ["Rights"]}, "value": {"none": ["All rights reserved."]}}
    # one version only: the body is the image itself, not a Choice
    assert manifest["items"][0]["items"][0]["items"][0]["body"]["type"] == "Image"
    assert manifest["label"] == {"none": ["ARC-0002"]}  # no title: the identifier


def test_the_preferred_derivative_comes_first(client, restored_item, curator):
    original, derivative = restored_item
    services.set_preferred_version(derivative, user=curator)
    items = _get(client, "/iiif/3/items/ARC-0001/manifest.json")["items"][0]["items"][0]["items"][0]["body"]["items"]
    assert [entry["service"][0]["id"].rsplit("/", 1)[1] for entry in items] == [str(derivative.pk), str(original.pk)]
    assert items[0]["label"]["en"][0].endswith("not the original")


def test_jsonld_media_type_and_cors(client, restored_item):
    response = client.get("/iiif/3/items/ARC-0001/manifest.json", HTTP_ACCEPT="application/ld+json")
    assert response["Content-Type"] == f'application/ld+json;profile="{CONTEXT}"'
    assert response["Access-Control-Allow-Origin"] == "*"


def test_non_public_items_are_invisible_to_anonymous(client, curator, store, public_collection, private_collection):
    store(quadrants_bytes(), "HIDDEN-1", collection=public_collection, is_public=False)
    store(quadrants_bytes(), "HIDDEN-2", collection=private_collection, is_public=True)
    for identifier in ("HIDDEN-1", "HIDDEN-2", "NO-SUCH-ITEM"):
        assert client.get(f"/iiif/3/items/{identifier}/manifest.json").status_code == 404
    assert client.get("/iiif/3/collections/family/collection.json").status_code == 404
    client.force_login(curator)
    response = client.get("/iiif/3/items/HIDDEN-1/manifest.json")
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response
    assert response["Cache-Control"].startswith("private")
    assert "seeAlso" not in json.loads(response.content)  # not harvestable: no OAI record to point to


@pytest.mark.parametrize(
    ("identifier", "path"),
    [
        ("box 12/print 3", "box%2012/print%203"),
        ("ark:/12148/b 1?x#y%z", "ark:/12148/b%201%3Fx%23y%25z"),
    ],
)
def test_identifiers_with_slashes_and_spaces(client, store, public_collection, identifier, path):
    """One id per manifest: the URL every document links to is the id the manifest states,
    whichever way a client encodes the identifier to fetch it."""
    from urllib.parse import quote

    store(quadrants_bytes(), identifier, collection=public_collection, is_public=True)
    expected = f"http://testserver/iiif/3/items/{path}/manifest.json"
    for fetched in (path, quote(identifier, safe="")):  # as linked, and fully encoded (encodeURIComponent)
        manifest = _get(client, f"/iiif/3/items/{fetched}/manifest.json")
        assert manifest["id"] == expected
        assert manifest["items"][0]["id"] == expected.removesuffix("/manifest.json") + "/canvas/1"
    listed = _get(client, "/iiif/3/collections/harbour/collection.json")["items"]
    assert [entry["id"] for entry in listed] == [expected]
    oai = client.get("/oai", {"verb": "ListRecords", "metadataPrefix": "oai_dc"}).content.decode()
    assert f"<dc:identifier>{expected}</dc:identifier>" in oai


def test_collection_lists_the_visible_manifests(client, curator, store, public_collection):
    store(quadrants_bytes(), "B-2", collection=public_collection, is_public=True, title="Second")
    store(quadrants_bytes(), "A-1", collection=public_collection, is_public=True, title="First")
    store(quadrants_bytes(), "C-3", collection=public_collection, is_public=False)
    collection = _get(client, "/iiif/3/collections/harbour/collection.json")
    assert collection["@context"] == CONTEXT and collection["type"] == "Collection"
    assert collection["id"] == "http://testserver/iiif/3/collections/harbour/collection.json"
    assert collection["label"] == {"none": ["Harbour prints"]}
    assert collection["summary"] == {"none": ["Prints of the harbour, 1900-1930."]}
    assert [(m["type"], m["id"].split("/")[-2], m["label"]) for m in collection["items"]] == [
        ("Manifest", "A-1", {"none": ["First"]}), ("Manifest", "B-2", {"none": ["Second"]}),
    ]
    client.force_login(curator)
    signed_in = client.get("/iiif/3/collections/harbour/collection.json")
    assert len(json.loads(signed_in.content)["items"]) == 3 and signed_in["Cache-Control"].startswith("private")


def test_top_collection_lists_public_collections(client, public_collection, private_collection):
    top = _get(client, "/iiif/3/collection.json")
    assert [(c["type"], c["id"]) for c in top["items"]] == [
        ("Collection", "http://testserver/iiif/3/collections/harbour/collection.json")
    ]


def test_every_listed_manifest_and_service_resolves(client, restored_item):
    """The documents link only to what the service answers."""
    collection = _get(client, "/iiif/3/collections/harbour/collection.json")
    for entry in collection["items"]:
        manifest = _get(client, entry["id"].removeprefix("http://testserver"))
        body = manifest["items"][0]["items"][0]["items"][0]["body"]
        for image in body.get("items", [body]):
            info = _get(client, image["service"][0]["id"].removeprefix("http://testserver") + "/info.json")
            assert (info["width"], info["height"]) == (image["width"], image["height"])
            assert client.get(image["id"].removeprefix("http://testserver")).status_code == 200


def test_upscaled_derivative_keeps_its_own_size(client, store, restore, public_collection):
    original = store(quadrants_bytes(200, 100), "UP-1", collection=public_collection, is_public=True)
    restore(original, quadrants_bytes(400, 200), kind=VersionKind.UPSCALED, model="sr4")
    body = _get(client, "/iiif/3/items/UP-1/manifest.json")["items"][0]["items"][0]["items"][0]["body"]
    assert [(i["width"], i["height"]) for i in body["items"]] == [(200, 100), (400, 200)]
    assert body["items"][1]["label"]["en"][0].startswith("Upscaled by model sr4, weights")


# --- rights, HTML-looking values, CORS and 404s (issue 15) -------------------------------------------


@pytest.mark.parametrize(
    ("rights", "expected"),
    [
        ("http://creativecommons.org/licenses/by/4.0/", "http://creativecommons.org/licenses/by/4.0/"),
        ("https://creativecommons.org/licenses/by-sa/4.0/", "http://creativecommons.org/licenses/by-sa/4.0/"),
        (" https://creativecommons.org/publicdomain/mark/1.0/ ", "http://creativecommons.org/publicdomain/mark/1.0/"),
        ("https://rightsstatements.org/vocab/InC/1.0/", "http://rightsstatements.org/vocab/InC/1.0/"),
        ("https://rightsstatements.org/page/InC/1.0/?language=en", "http://rightsstatements.org/vocab/InC/1.0/"),
        ("https://creativecommons.org/publicdomain/zero/1.0/", None),  # not a form the schema accepts
        ("https://example.org/licence", None),
        ("http://creativecommons.org/licenses/by/4.0/ and more", None),
        ("Public domain", None),
    ],
)
def test_rights_use_the_uri_forms_the_schema_accepts(client, store, public_collection, rights, expected):
    store(quadrants_bytes(), "R-1", collection=public_collection, is_public=True, rights=rights)
    manifest = _get(client, "/iiif/3/items/R-1/manifest.json")
    if expected:
        assert manifest["rights"] == expected and "requiredStatement" not in manifest
    else:
        assert "rights" not in manifest
        assert manifest["requiredStatement"]["value"] == {"none": [rights]}
    version = manifest["items"][0]["items"][0]["items"][0]["body"]["service"][0]["id"]
    info = _get(client, version.removeprefix("http://testserver") + "/info.json")
    assert info.get("rights") == expected


def test_html_looking_values_are_published_as_text(client, store, public_collection):
    store(quadrants_bytes(), "H-1", collection=public_collection, is_public=True,
          creator="<script>alert(1)</script>", description="<b>bold</b> & <i>tags</i>", rights="<a href=x>mine</a>",
          subject="ships <and> cranes")
    manifest = _get(client, "/iiif/3/items/H-1/manifest.json")
    metadata = {entry["label"]["en"][0]: entry["value"]["none"][0] for entry in manifest["metadata"]}
    assert metadata["Creator"] == "<span>&lt;script&gt;alert(1)&lt;/script&gt;</span>"
    assert manifest["summary"] == {"none": ["<span>&lt;b&gt;bold&lt;/b&gt; &amp; &lt;i&gt;tags&lt;/i&gt;</span>"]}
    assert manifest["requiredStatement"]["value"] == {"none": ["<span>&lt;a href=x&gt;mine&lt;/a&gt;</span>"]}
    assert metadata["Subject"] == "ships <and> cranes"  # not taken for HTML by viewers: plain as it is


@pytest.mark.parametrize(
    "path",
    ["/iiif/3/items/ARC-0001/manifest.json", "/iiif/3/collection.json", "/iiif/3/collections/harbour/collection.json",
     "INFO", "IMAGE", "/iiif/3/items/NO-SUCH/manifest.json", "/iiif/3/999999/info.json"],
)
def test_cors_preflight_is_answered(client, restored_item, path):
    original, _ = restored_item
    path = {"INFO": f"/iiif/3/{original.pk}/info.json", "IMAGE": f"/iiif/3/{original.pk}/full/max/0/default.jpg"}.get(
        path, path)
    response = client.options(
        path, HTTP_ORIGIN="https://viewer.example.org", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="accept, if-none-match",
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response["Access-Control-Allow-Methods"]
    assert response["Access-Control-Allow-Headers"] == "accept, if-none-match"
    # then the real request, with the profile in Accept, as Mirador sends it
    if "NO-SUCH" not in path and "999999" not in path:
        real = client.get(path, HTTP_ACCEPT=f'application/ld+json;profile="{CONTEXT}"')
        assert real.status_code == 200 and real["Access-Control-Allow-Origin"] == "*"


def test_a_preflight_with_odd_header_names_gets_the_default_list(client, restored_item):
    response = client.options("/iiif/3/collection.json", HTTP_ACCESS_CONTROL_REQUEST_HEADERS="accept\u00e9, x y")
    assert response["Access-Control-Allow-Headers"] == "Accept, Authorization, If-None-Match"


@pytest.mark.parametrize(
    "path",
    ["/iiif/3/items/NO-SUCH/manifest.json", "/iiif/3/collections/nope/collection.json", "/iiif/3/999999/info.json",
     "/iiif/3/999999", "/iiif/3/999999/full/max/0/default.jpg", "/iiif/3/not-a-route", "/iiif/3/1.5/info.json",
     "/iiif/2/anything"],
)
def test_iiif_404s_are_json_with_cors(client, db, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert json.loads(response.content)["error"] == "not_found"
