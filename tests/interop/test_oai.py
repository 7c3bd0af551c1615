"""OAI-PMH 2.0 at /oai: every response is validated against the OAI-PMH and oai_dc schemas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core import signing
from lxml import etree

from tests.support import quadrants_bytes
from restoration.interop import oai
from restoration.core import services
from restoration.models import Collection, Item

SCHEMAS = Path(__file__).parents[1] / "schemas"
NS = {"o": oai.NS_OAI, "oai_dc": oai.NS_OAI_DC, "dc": oai.NS_DC}


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "oai_pmh_with_dc.xsd")))


@pytest.fixture
def harvest(client, schema):
    """``harvest(**params)`` (GET; ``method="post"`` to POST): the validated response document."""

    def _harvest(method: str = "get", **params) -> etree._Element:
        response = getattr(client, method)("/oai", params)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/xml; charset=utf-8"
        document = etree.fromstring(response.content)
        schema.assertValid(document)
        return document

    return _harvest


def errors(document) -> list[str]:
    return [e.get("code") for e in document.findall("o:error", NS)]


def identifiers(document) -> list[str]:
    return [e.text for e in document.findall(".//o:header/o:identifier", NS)]


def oai_id(identifier: str) -> str:
    return f"oai:photo-archive.example.org:{identifier}"


@pytest.fixture
def archive(store, public_collection, private_collection):
    """Public items A-1, A-2 (in the public collection) and LOOSE (no collection); hidden ones."""
    store(quadrants_bytes(), "A-1", collection=public_collection, is_public=True, title="Quay", creator="J. Smith",
          subject="harbours", date="ca. 1920", rights="Public domain", description="Ships & <cranes>")
    store(quadrants_bytes(), "A-2", collection=public_collection, is_public=True, title="Lighthouse")
    store(quadrants_bytes(), "LOOSE", is_public=True, title="Loose print")
    store(quadrants_bytes(), "HIDDEN", collection=public_collection, is_public=False, title="Not public")
    store(quadrants_bytes(), "FAMILY", collection=private_collection, is_public=True, title="In a private collection")


def test_identify(harvest, archive):
    document = harvest(verb="Identify")
    identify = document.find("o:Identify", NS)
    assert identify.findtext("o:baseURL", namespaces=NS) == "http://testserver/oai"
    assert identify.findtext("o:protocolVersion", namespaces=NS) == "2.0"
    assert identify.findtext("o:deletedRecord", namespaces=NS) == "transient"
    assert identify.findtext("o:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    earliest = identify.findtext("o:earliestDatestamp", namespaces=NS)
    assert earliest == oai.format_datestamp(min(i.updated_at for i in Item.objects.filter(is_public=True)))
    request = document.find("o:request", NS)
    assert request.get("verb") == "Identify" and request.text == "http://testserver/oai"


def test_list_metadata_formats(harvest, archive):
    document = harvest(verb="ListMetadataFormats")
    formats = document.findall(".//o:metadataFormat", NS)
    assert [f.findtext("o:metadataPrefix", namespaces=NS) for f in formats] == ["oai_dc"]
    assert formats[0].findtext("o:metadataNamespace", namespaces=NS) == oai.NS_OAI_DC
    assert errors(harvest(verb="ListMetadataFormats", identifier=oai_id("A-1"))) == []
    assert errors(harvest(verb="ListMetadataFormats", identifier=oai_id("HIDDEN"))) == ["idDoesNotExist"]


def test_list_sets_are_the_public_collections(harvest, archive):
    document = harvest(verb="ListSets")
    sets = document.findall(".//o:set", NS)
    assert [(s.findtext("o:setSpec", namespaces=NS), s.findtext("o:setName", namespaces=NS)) for s in sets] == [
        ("harbour", "Harbour prints")
    ]
    assert sets[0].findtext(".//dc:description", namespaces=NS) == "Prints of the harbour, 1900-1930."


def test_list_sets_without_public_collections(harvest, db):
    assert errors(harvest(verb="ListSets")) == ["noSetHierarchy"]


def test_only_public_items_are_harvested(harvest, archive):
    document = harvest(verb="ListIdentifiers", metadataPrefix="oai_dc")
    assert sorted(identifiers(document)) == [oai_id("A-1"), oai_id("A-2"), oai_id("LOOSE")]
    assert errors(harvest(verb="GetRecord", identifier=oai_id("HIDDEN"), metadataPrefix="oai_dc")) == ["idDoesNotExist"]
    assert errors(harvest(verb="GetRecord", identifier=oai_id("FAMILY"), metadataPrefix="oai_dc")) == ["idDoesNotExist"]


def test_get_record_carries_dublin_core(harvest, archive):
    document = harvest(verb="GetRecord", identifier=oai_id("A-1"), metadataPrefix="oai_dc")
    record = document.find(".//o:record", NS)
    header = record.find("o:header", NS)
    assert header.findtext("o:identifier", namespaces=NS) == oai_id("A-1")
    assert header.findtext("o:setSpec", namespaces=NS) == "harbour"
    item = Item.objects.get(identifier="A-1")
    assert header.findtext("o:datestamp", namespaces=NS) == oai.format_datestamp(max(item.updated_at,
                                                                                      item.collection.updated_at))
    dc = record.find("o:metadata/oai_dc:dc", NS)
    values = {(e.tag.split("}")[1], e.text) for e in dc}
    assert {("title", "Quay"), ("creator", "J. Smith"), ("subject", "harbours"), ("date", "ca. 1920"),
            ("rights", "Public domain"), ("identifier", "A-1"), ("type", "StillImage"),
            ("format", "image/png"), ("description", "Ships & <cranes>")} <= values
    assert ("identifier", "http://testserver/iiif/3/items/A-1/manifest.json") in values


def test_list_records_and_sets(harvest, archive):
    document = harvest(verb="ListRecords", metadataPrefix="oai_dc", set="harbour")
    assert sorted(identifiers(document)) == [oai_id("A-1"), oai_id("A-2")]
    assert len(document.findall(".//oai_dc:dc", NS)) == 2
    assert errors(harvest(verb="ListRecords", metadataPrefix="oai_dc", set="family")) == ["noRecordsMatch"]
    assert errors(harvest(verb="ListRecords", metadataPrefix="oai_dc", set="no-such-set")) == ["noRecordsMatch"]


def test_from_and_until(harvest, archive):
    item = Item.objects.get(identifier="LOOSE")
    Item.objects.filter(pk=item.pk).update(updated_at=datetime(2001, 5, 6, 7, 8, 9, 500000, tzinfo=UTC))
    def listed(**params):
        return sorted(identifiers(harvest(verb="ListIdentifiers", metadataPrefix="oai_dc", **params)))

    assert listed(until="2001-05-06T07:08:09Z") == [oai_id("LOOSE")]  # seconds granularity: inclusive
    assert errors(harvest(verb="ListIdentifiers", metadataPrefix="oai_dc", until="2001-05-06T07:08:08Z")) == [
        "noRecordsMatch"
    ]
    assert listed(until="2001-05-06") == [oai_id("LOOSE")]  # the whole day
    assert listed(**{"from": "2001-05-06T07:08:09Z", "until": "2001-05-06T07:08:09Z"}) == [oai_id("LOOSE")]
    assert listed(**{"from": "2001-05-07"}) == [oai_id("A-1"), oai_id("A-2")]


def test_a_collection_made_public_moves_its_items_datestamps(harvest, archive, private_collection):
    before = datetime.now(UTC) - timedelta(seconds=1)
    Collection.objects.filter(pk=private_collection.pk).update(is_public=True, updated_at=datetime.now(UTC))
    listed = identifiers(harvest(verb="ListIdentifiers", metadataPrefix="oai_dc",
                                 **{"from": oai.format_datestamp(before)}))
    assert oai_id("FAMILY") in listed


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "badVerb"),
        ({"verb": "Harvest"}, "badVerb"),
        ({"verb": "ListRecords"}, "badArgument"),
        ({"verb": "Identify", "extra": "1"}, "badArgument"),
        ({"verb": "GetRecord", "identifier": "oai:photo-archive.example.org:A-1"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "yesterday"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2020-01-01", "until": "2020-01-01T00:00:00Z"},
         "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2021-01-01", "until": "2020-01-01"},
         "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2020-02-30"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "marc21"}, "cannotDisseminateFormat"),
        ({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "until": "1990-01-01"}, "noRecordsMatch"),
        ({"verb": "GetRecord", "identifier": "oai:photo-archive.example.org:NOPE", "metadataPrefix": "oai_dc"},
         "idDoesNotExist"),
        ({"verb": "GetRecord", "identifier": "not-an-oai-id", "metadataPrefix": "oai_dc"}, "idDoesNotExist"),
        ({"verb": "GetRecord", "identifier": "oai:photo-archive.example.org:A-1", "metadataPrefix": "mods"},
         "cannotDisseminateFormat"),
        ({"verb": "ListRecords", "resumptionToken": "forged"}, "badResumptionToken"),
        ({"verb": "ListSets", "resumptionToken": "anything"}, "badResumptionToken"),
        ({"verb": "ListRecords", "resumptionToken": "x", "metadataPrefix": "oai_dc"}, "badArgument"),
    ],
)
def test_error_codes(harvest, archive, params, code):
    document = harvest(**params)
    assert errors(document) == [code]
    assert document.find("o:error", NS).text  # a readable reason
    request = document.find("o:request", NS)
    if code in ("badVerb", "badArgument"):
        assert dict(request.attrib) == {}  # only the base URL, as the protocol asks
    else:
        assert request.get("verb") == params["verb"]


def test_repeated_arguments_are_bad(client, schema, archive):
    response = client.get("/oai?verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc")
    document = etree.fromstring(response.content)
    schema.assertValid(document)
    assert errors(document) == ["badArgument"]
    response = client.get("/oai?verb=Identify&verb=Identify")
    assert errors(etree.fromstring(response.content)) == ["badVerb"]


def test_post_is_answered_like_get(harvest, archive):
    document = harvest(method="post", verb="ListIdentifiers", metadataPrefix="oai_dc")
    assert len(identifiers(document)) == 3


def test_resumption_tokens_page_through_long_lists(harvest, store, public_collection, settings):
    settings.OAI_PAGE_SIZE = 4
    for n in range(10):
        store(quadrants_bytes(), f"P-{n:02d}", collection=public_collection, is_public=True)
    seen, cursors, params = [], [], {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
    while True:
        document = harvest(**params)
        page = identifiers(document)
        assert 0 < len(page) <= 4
        seen += page
        token = document.find(".//o:resumptionToken", NS)
        assert token is not None and int(token.get("completeListSize")) >= 10
        cursors.append(int(token.get("cursor")))
        if not token.text:
            break  # the last page carries an empty token
        assert token.get("expirationDate")
        store(quadrants_bytes(), f"Z-NEW-{len(seen)}", collection=public_collection, is_public=True)  # added meanwhile
        params = {"verb": "ListRecords", "resumptionToken": token.text}
    # Items added while harvesting come after the others: nothing is skipped or listed twice.
    assert cursors == [0, 4, 8, 12][: len(cursors)] and len(cursors) >= 3
    assert seen[:10] == [oai_id(f"P-{n:02d}") for n in range(10)] and len(set(seen)) == len(seen)
    assert all(identifier.split(":")[-1].startswith("Z-NEW") for identifier in seen[10:])


def test_tokens_are_bound_to_their_verb_and_expire(harvest, store, public_collection, settings):
    settings.OAI_PAGE_SIZE = 1
    store(quadrants_bytes(), "T-1", collection=public_collection, is_public=True)
    store(quadrants_bytes(), "T-2", collection=public_collection, is_public=True)
    token = harvest(verb="ListIdentifiers", metadataPrefix="oai_dc").find(".//o:resumptionToken", NS).text
    assert errors(harvest(verb="ListRecords", resumptionToken=token)) == ["badResumptionToken"]
    assert identifiers(harvest(verb="ListIdentifiers", resumptionToken=token)) == [oai_id("T-2")]
    settings.OAI_TOKEN_MAX_AGE = -1
    assert errors(harvest(verb="ListIdentifiers", resumptionToken=token)) == ["badResumptionToken"]
    tampered = signing.dumps({"verb": "ListIdentifiers"}, salt="another salt")
    assert errors(harvest(verb="ListIdentifiers", resumptionToken=tampered)) == ["badResumptionToken"]


def test_control_characters_do_not_break_the_xml(harvest, store, curator, public_collection):
    version = store(quadrants_bytes(), "CTRL", collection=public_collection, is_public=True)
    services.update_item_metadata(version.item, {"title": "Bell \x07 and tab\tkept"}, user=curator)
    document = harvest(verb="GetRecord", identifier=oai_id("CTRL"), metadataPrefix="oai_dc")
    assert document.findtext(".//dc:title", namespaces=NS) == "Bell  and tab\tkept"


def test_identifiers_outside_the_oai_syntax_are_escaped(harvest, store, public_collection):
    store(quadrants_bytes(), "box 12/print #3", collection=public_collection, is_public=True)
    listed = identifiers(harvest(verb="ListIdentifiers", metadataPrefix="oai_dc"))
    assert listed == [oai_id("box%2012/print%20%233")]
    document = harvest(verb="GetRecord", identifier=listed[0], metadataPrefix="oai_dc")
    assert document.findtext(".//dc:identifier", namespaces=NS) == "box 12/print #3"


# --- Arguments out of range, and deleted records (issue 15) ----------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"until": "10000-01-01"},
        {"from": "0000-01-01"},
        {"from": "2020-13-01"},
        {"from": "2020-01-01T00:00Z"},  # minutes: not a granularity of the protocol
        {"from": "2020-01-01T00:00:00.5Z"},
        {"from": "2020-01-01T00:00:00+01:00"},
        {"from": "2020-01-01T24:00:00Z"},
        {"from": "\u0662\u0660\u0662\u0660-01-01"},  # Arabic-Indic digits match \d without re.ASCII
        {"from": "9" * 60_000},
        {"set": "x" * 60_000},
        {"set": "harbour\x00"},
        {"set": "a\x07b"},
    ],
)
def test_dates_and_values_out_of_range_are_bad_arguments(harvest, archive, params):
    document = harvest(verb="ListIdentifiers", metadataPrefix="oai_dc", **params)
    assert errors(document) == ["badArgument"]


@pytest.mark.parametrize("verb", ["GetRecord", "ListMetadataFormats"])
@pytest.mark.parametrize("local", ["x" * 60_000, "A-1\x00"])
def test_a_huge_or_nul_identifier_is_a_bad_argument(harvest, archive, verb, local):
    params = {"identifier": oai_id(local)}
    if verb == "GetRecord":
        params["metadataPrefix"] = "oai_dc"
    assert errors(harvest(verb=verb, **params)) == ["badArgument"]


PUBLIC = sorted([oai_id("A-1"), oai_id("A-2"), oai_id("LOOSE")])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"until": "9999-12-31"}, PUBLIC),
        ({"until": "9999-12-31T23:59:59Z"}, PUBLIC),
        ({"from": "0001-01-01"}, PUBLIC),
        ({"from": "0001-01-01T00:00:00Z", "until": "9999-12-31T23:59:59Z"}, PUBLIC),
        ({"until": "0001-01-01"}, "noRecordsMatch"),
        ({"from": "9999-12-31"}, "noRecordsMatch"),
        ({"from": "9999-12-31T23:59:59Z"}, "noRecordsMatch"),
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_answered(harvest, archive, params, expected):
    document = harvest(verb="ListIdentifiers", metadataPrefix="oai_dc", **params)
    if isinstance(expected, str):
        assert errors(document) == [expected]
    else:
        assert errors(document) == [] and sorted(identifiers(document)) == expected


def headers(document) -> dict[str, tuple[str | None, str]]:
    """``{identifier: (status, datestamp)}`` of the headers in a list or GetRecord response."""
    return {
        h.findtext("o:identifier", namespaces=NS): (h.get("status"), h.findtext("o:datestamp", namespaces=NS))
        for h in document.findall(".//o:header", NS)
    }


def test_an_item_made_non_public_is_harvested_as_deleted(harvest, archive, curator):
    """A real incremental harvest: full ListRecords, the item leaves, ListRecords from= the
    latest datestamp seen shows its deleted header (and no metadata); GetRecord agrees."""
    earlier = datetime(2001, 5, 6, 7, 8, 9, tzinfo=UTC)  # the first harvest's records are older than the change
    Item.objects.update(updated_at=earlier)
    Collection.objects.update(updated_at=earlier)
    first = harvest(verb="ListRecords", metadataPrefix="oai_dc")
    seen = headers(first)
    assert oai_id("A-2") in seen and all(status is None for status, _ in seen.values())
    last = max(datestamp for _, datestamp in seen.values())
    harvested_at = first.findtext("o:responseDate", namespaces=NS)  # what a harvester sends as from= next time

    item = Item.objects.get(identifier="A-2")
    services.update_item_metadata(item, {"is_public": False}, user=curator)

    second = harvest(verb="ListRecords", metadataPrefix="oai_dc", **{"from": harvested_at})
    found = headers(second)
    assert found[oai_id("A-2")][0] == "deleted"
    assert found[oai_id("A-2")][1] > last
    assert set(found) == {oai_id("A-2")}  # the unchanged records are not harvested again
    records = {r.findtext("o:header/o:identifier", namespaces=NS): r for r in second.findall(".//o:record", NS)}
    assert records[oai_id("A-2")].find("o:metadata", NS) is None
    assert oai_id("HIDDEN") not in found  # never public: not in the repository at all

    assert headers(harvest(verb="ListIdentifiers", metadataPrefix="oai_dc", set="harbour"))[oai_id("A-2")][0] == "deleted"
    record = harvest(verb="GetRecord", identifier=oai_id("A-2"), metadataPrefix="oai_dc")
    assert headers(record)[oai_id("A-2")][0] == "deleted"
    assert record.find(".//o:metadata", NS) is None
    # a harvest that ended before the item left does not see it go
    before = harvest(verb="ListIdentifiers", metadataPrefix="oai_dc", until=last)
    assert headers(before).get(oai_id("A-2"), (None, ""))[0] is None

    # made public again: a live record once more
    services.update_item_metadata(item, {"is_public": True}, user=curator)
    again = headers(harvest(verb="ListRecords", metadataPrefix="oai_dc", **{"from": harvested_at}))
    assert again[oai_id("A-2")][0] is None


def test_a_deleted_record_in_a_non_public_place_is_not_disclosed(harvest, archive, curator, private_collection):
    item = Item.objects.get(identifier="A-2")
    services.update_item_metadata(item, {"is_public": False}, user=curator)
    services.update_item_metadata(item, {"collection": private_collection}, user=curator)

    assert oai_id("A-2") not in headers(harvest(verb="ListIdentifiers", metadataPrefix="oai_dc"))
