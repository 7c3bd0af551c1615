"""A rejected (or withdrawn, or pending) derivative on the standard doors: the IIIF image
service (info.json, images, the base URI) and Presentation manifests, and OAI-PMH records
(GetRecord and ListRecords), for anonymous visitors, plain accounts and curators.

The IIIF doors follow the caller (curators see every version; responses that differ from the
public's are never marked for shared caches); OAI-PMH is the public's record whoever asks.
"""

from __future__ import annotations

import pytest
from django.test import Client
from lxml import etree

from restoration.core import services
from restoration.interop import oai
from restoration.models import Version
from tests.support import quadrants_bytes

NS = {"o": oai.NS_OAI, "oai_dc": oai.NS_OAI_DC, "dc": oai.NS_DC}
pytestmark = pytest.mark.django_db


@pytest.fixture
def shelf(store, restore, public_collection, curator):
    """A public item with an accepted derivative and one of ``status`` (set by the test)."""
    original = store(quadrants_bytes(80, 60), "DOOR-1", collection=public_collection, is_public=True)
    accepted = restore(original, model="kept-model")
    hidden = restore(original, quadrants_bytes(80, 60, seed=3), kind="colorized", model="hidden-model", review=None)
    return {"original": original, "accepted": accepted, "hidden": hidden}


def hide(version: Version, status: str, curator) -> None:
    if status != "pending":
        services.review_version(version, status, reason="Not fit to show", user=curator)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def manifest_versions(client: Client) -> list[int]:
    """Ids of the versions a manifest's choice offers, in order."""
    body = client.get("/iiif/3/items/DOOR-1/manifest.json").json()
    items = body["items"][0]["items"][0]["items"][0]["body"]
    choices = items["items"] if items["type"] == "Choice" else [items]
    return [int(c["service"][0]["id"].rstrip("/").rsplit("/", 1)[1]) for c in choices]


@pytest.mark.parametrize("status", ["rejected", "withdrawn", "pending"])
def test_iiif_serves_a_hidden_derivative_to_curators_only(client, reader, curator, shelf, status):
    hidden, accepted, original = shelf["hidden"], shelf["accepted"], shelf["original"]
    hide(hidden, status, curator)
    urls = [f"/iiif/3/{hidden.pk}/info.json", f"/iiif/3/{hidden.pk}/full/max/0/default.jpg",
            f"/iiif/3/{hidden.pk}/0,0,40,30/20,/0/default.jpg", f"/iiif/3/{hidden.pk}"]

    for visitor in (client, logged_in(reader)):
        for url in urls:
            assert visitor.get(url).status_code == 404, url
        assert manifest_versions(visitor) == [original.pk, accepted.pk]
        assert "hidden-model" not in visitor.get("/iiif/3/items/DOOR-1/manifest.json").content.decode()

    curator_client = logged_in(curator)
    info = curator_client.get(urls[0])
    assert info.status_code == 200 and "private" in info["Cache-Control"]
    assert "Access-Control-Allow-Origin" not in info
    assert curator_client.get(urls[1]).status_code == 200
    manifest = curator_client.get("/iiif/3/items/DOOR-1/manifest.json")
    assert manifest_versions(curator_client) == [original.pk, accepted.pk, hidden.pk]
    assert "private" in manifest["Cache-Control"]  # the curator's view is not the public's


def test_the_public_view_of_an_accepted_derivative_stays_cacheable(client, curator, shelf):
    info = logged_in(curator).get(f"/iiif/3/{shelf['accepted'].pk}/info.json")
    assert info.status_code == 200 and info["Cache-Control"].startswith("public")
    anonymous = client.get(f"/iiif/3/{shelf['accepted'].pk}/info.json")
    assert anonymous["Cache-Control"].startswith("public") and anonymous["Access-Control-Allow-Origin"] == "*"


def test_a_rejected_preferred_version_falls_back_to_the_original_in_the_manifest(client, curator, shelf):
    services.set_preferred_version(shelf["hidden"], user=curator)
    assert manifest_versions(client) == [shelf["original"].pk, shelf["accepted"].pk]  # pending: not shown
    services.review_version(shelf["hidden"], "accepted", user=curator)
    assert manifest_versions(client)[0] == shelf["hidden"].pk
    services.review_version(shelf["hidden"], "rejected", reason="Second thoughts", user=curator)
    assert manifest_versions(client)[0] == shelf["original"].pk
    assert Version.objects.get(pk=shelf["original"].pk).is_preferred


def descriptions(client: Client, **params) -> list[str]:
    response = client.get("/oai", params)
    assert response.status_code == 200
    document = etree.fromstring(response.content)
    return [e.text for e in document.iterfind(".//dc:description", NS)]


@pytest.mark.parametrize("status", ["rejected", "withdrawn", "pending"])
def test_oai_records_describe_only_the_derivatives_the_public_may_see(client, reader, curator, shelf, status):
    hide(shelf["hidden"], status, curator)
    oai_id = "oai:photo-archive.example.org:DOOR-1"
    for harvester in (client, logged_in(reader), logged_in(curator)):  # a harvest is public, whoever asks
        for texts in (descriptions(harvester, verb="GetRecord", identifier=oai_id, metadataPrefix="oai_dc"),
                      descriptions(harvester, verb="ListRecords", metadataPrefix="oai_dc")):
            assert any("kept-model" in t for t in texts)
            assert not any("hidden-model" in t for t in texts)


def test_oai_lists_a_derivative_once_accepted_and_drops_it_when_withdrawn(client, curator, shelf, settings):
    oai_id = "oai:photo-archive.example.org:DOOR-1"
    get_record = {"verb": "GetRecord", "identifier": oai_id, "metadataPrefix": "oai_dc"}
    assert not any("hidden-model" in t for t in descriptions(client, **get_record))
    services.review_version(shelf["hidden"], "accepted", user=curator)
    assert any("hidden-model" in t for t in descriptions(client, **get_record))
    settings.ARCHIVE_PUBLIC_PENDING_DERIVATIVES = True  # (the setting opens pending ones only)
    services.review_version(shelf["hidden"], "withdrawn", reason="Rights", user=curator)
    assert not any("hidden-model" in t for t in descriptions(client, verb="ListRecords", metadataPrefix="oai_dc"))
