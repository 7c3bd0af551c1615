"""OAI-PMH 2.0 data provider at ``/oai`` (https://www.openarchives.org/OAI/openarchivesprotocol.html).

- Verbs: Identify, ListMetadataFormats, ListSets, ListIdentifiers, ListRecords, GetRecord, by
  GET or POST (``application/x-www-form-urlencoded``).
- Records: the items anonymous visitors may see (public items outside any collection or in
  public collections), as ``oai_dc`` from their Dublin Core fields. Identifiers are
  ``oai:<OAI_REPOSITORY_IDENTIFIER>:<item identifier>`` (characters outside the oai-identifier
  syntax percent-encoded).
- Sets: the public collections; ``setSpec`` is the collection's slug.
- Datestamps: seconds granularity, UTC (``YYYY-MM-DDThh:mm:ssZ``); ``from``/``until`` also take
  days. A record's datestamp is the later of its item's and its collection's last change, so a
  collection made public shows its items to incremental harvests.
- Deleted records: "transient". An item made non-public (its provenance holds the
  ``metadata modification`` event that set ``is_public`` from true to false) stays listed with
  ``<header status="deleted">`` and no metadata, its datestamp the time of that event, so an
  incremental harvest (``from=`` its last harvest) learns that it left. "Transient", because an
  item that leaves otherwise (its collection made non-public or moved) leaves no such trace.
- Every argument is checked: dates must be real dates of years 0001-9999 in one of the two
  granularities (``until=9999-12-31`` included), and no value may be longer than
  ``MAX_ARGUMENT_LENGTH`` characters or hold a character XML cannot carry (NUL, ...); anything
  else is ``badArgument``.
- Lists longer than ``OAI_PAGE_SIZE`` are split with resumption tokens: signed, stateless
  (they carry the request and the last item id, so pages stay stable while items are added)
  and valid for ``OAI_TOKEN_MAX_AGE`` seconds.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from django.conf import settings
from django.core import signing
from django.db.models import BooleanField, Case, ExpressionWrapper, F, Min, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce, Greatest
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from lxml import etree

from restoration.interop import common as interop
from restoration.core.models import Collection, EventType, Item, ProvenanceEvent
from restoration.jobs import labels

logger = logging.getLogger(__name__)

NS_OAI = "http://www.openarchives.org/OAI/2.0/"
NS_OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
NS_DC = "http://purl.org/dc/elements/1.1/"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
METADATA_FORMATS = {"oai_dc": (OAI_DC_SCHEMA, NS_OAI_DC)}
TOKEN_SALT = "restoration.interop.oai.resumption"

# Dublin Core elements in oai_dc order: (element, Item field).
DC_ELEMENTS = (
    ("title", "title"),
    ("creator", "creator"),
    ("subject", "subject"),
    ("description", "description"),
    ("publisher", "publisher"),
    ("contributor", "contributor"),
    ("date", "date"),
    ("type", "type"),
    ("format", "format"),
    ("identifier", "identifier"),
    ("source", "source"),
    ("language", "language"),
    ("relation", "relation"),
    ("coverage", "coverage"),
    ("rights", "rights"),
)

# Arguments per verb: (required, optional, exclusive). An exclusive argument stands alone.
VERBS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str | None]] = {
    "Identify": ((), (), None),
    "ListMetadataFormats": ((), ("identifier",), None),
    "ListSets": ((), (), "resumptionToken"),
    "GetRecord": (("identifier", "metadataPrefix"), (), None),
    "ListIdentifiers": (("metadataPrefix",), ("from", "until", "set"), "resumptionToken"),
    "ListRecords": (("metadataPrefix",), ("from", "until", "set"), "resumptionToken"),
}

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_SECOND = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", re.ASCII)
# Characters XML 1.0 cannot carry (catalogue text may hold stray control characters).
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Longest argument value accepted (identifiers, set specs, tokens); longer ones are badArgument.
MAX_ARGUMENT_LENGTH = 2000
# The oai-identifier syntax's local part (anything else is percent-encoded).
_LOCAL_SAFE = "-_.!~*'();/?:@&=+$,"


class OAIError(Exception):
    """An OAI-PMH error condition: ``code`` is one of the protocol's codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def oai_identifier(item: Item) -> str:
    return f"oai:{settings.OAI_REPOSITORY_IDENTIFIER}:{quote(item.identifier, safe=_LOCAL_SAFE)}"


def _item_identifier(oai_id: str) -> str | None:
    prefix = f"oai:{settings.OAI_REPOSITORY_IDENTIFIER}:"
    return unquote(oai_id[len(prefix):]) if oai_id.startswith(prefix) and len(oai_id) > len(prefix) else None


def format_datestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _made_non_public_at() -> Subquery:
    """When the item was last made non-public: its latest ``metadata modification`` event that
    set ``is_public`` from true to false (``restoration.core.services.update_item_metadata``)."""
    return Subquery(
        ProvenanceEvent.objects.filter(
            item=OuterRef("pk"), event_type=EventType.METADATA_MODIFICATION,
            detail__changes__is_public__old=True, detail__changes__is_public__new=False,
        ).order_by("-timestamp", "-id").values("timestamp")[:1]
    )


def records() -> QuerySet[Item]:
    """Every record of the repository, in id order: the public items (``oai_deleted`` false) and
    the items made non-public (``oai_deleted`` true, answered as deleted headers), each with its
    ``oai_datestamp``. An item that would be public but for its own ``is_public`` and that was
    once made non-public is a deleted record; one that never was public is not in the repository
    at all (listing it would disclose its identifier)."""
    public = Q(pk__in=interop.public_items().values("pk"))
    in_public_place = Q(collection__isnull=True) | Q(collection__is_public=True)
    return (
        Item.objects.select_related("collection")
        .annotate(
            oai_left_at=_made_non_public_at(),
            oai_deleted=ExpressionWrapper(~public, output_field=BooleanField()),
        )
        .filter(public | (Q(is_public=False) & in_public_place & Q(oai_left_at__isnull=False)))
        .annotate(
            oai_datestamp=Case(
                When(public, then=Greatest(F("updated_at"), Coalesce(F("collection__updated_at"), F("updated_at")))),
                default=F("oai_left_at"),
            )
        )
        .order_by("pk")
    )


# --- XML ----------------------------------------------------------------------------------------


def _oai(tag: str) -> str:
    return f"{{{NS_OAI}}}{tag}"


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = _clean(text)
    return element


def derivative_labels(items: list[Item]) -> dict[int, list[str]]:
    """``{item id: [label, ...]}``: the labels of each item's derivatives the public may see,
    oldest first (``interop.public_versions``: no rejected or withdrawn one; pending ones by
    setting), each the sentence of the item page, the manifest and the XMP
    (``restoration.jobs.labels``)."""
    versions = list(interop.public_versions().derivatives().filter(item__in=items).order_by("created_at", "id"))
    texts = labels.labels(versions)
    found: dict[int, list[str]] = {item.pk: [] for item in items}
    for version in versions:
        found[version.item_id].append(texts[version.pk])
    return found


def dublin_core(item: Item, *, base: str, derivatives: list[str] | None = None) -> etree._Element:
    """The ``oai_dc:dc`` element of an item (also the Dublin Core file of its bags). Each of its
    derivatives adds a ``dc:description``: its label (``derivatives``; read when None)."""
    if derivatives is None:
        derivatives = derivative_labels([item])[item.pk]
    root = etree.Element(f"{{{NS_OAI_DC}}}dc", nsmap={"oai_dc": NS_OAI_DC, "dc": NS_DC, "xsi": NS_XSI})
    root.set(f"{{{NS_XSI}}}schemaLocation", f"{NS_OAI_DC} {OAI_DC_SCHEMA}")
    for element, field in DC_ELEMENTS:
        value = (getattr(item, field) or "").strip()
        if value:
            _sub(root, f"{{{NS_DC}}}{element}", value)
        if element == "description":
            for text in derivatives:
                _sub(root, f"{{{NS_DC}}}description", text)
        if element == "identifier":
            _sub(root, f"{{{NS_DC}}}identifier", base + reverse("iiif:manifest", args=[item.identifier]))
    return root


def _header(parent: etree._Element, item: Item) -> None:
    header = _sub(parent, _oai("header"), **({"status": "deleted"} if getattr(item, "oai_deleted", False) else {}))
    _sub(header, _oai("identifier"), oai_identifier(item))
    _sub(header, _oai("datestamp"), format_datestamp(item.oai_datestamp))
    if item.collection is not None and item.collection.is_public:
        _sub(header, _oai("setSpec"), item.collection.slug)


def _record(parent: etree._Element, item: Item, base: str, derivatives: list[str] | None = None) -> None:
    record = _sub(parent, _oai("record"))
    _header(record, item)
    if getattr(item, "oai_deleted", False):
        return  # a deleted record has a header only
    metadata = _sub(record, _oai("metadata"))
    metadata.append(dublin_core(item, base=base, derivatives=derivatives))


def _envelope(base_url: str, arguments: dict[str, str] | None) -> etree._Element:
    root = etree.Element(_oai("OAI-PMH"), nsmap={None: NS_OAI, "xsi": NS_XSI})
    root.set(f"{{{NS_XSI}}}schemaLocation", f"{NS_OAI} {OAI_SCHEMA}")
    _sub(root, _oai("responseDate"), format_datestamp(timezone.now()))
    request = _sub(root, _oai("request"), base_url)
    for name, value in (arguments or {}).items():
        request.set(name, _clean(value))
    return root


# --- Arguments ----------------------------------------------------------------------------------


def _arguments(params) -> tuple[str, dict[str, str]]:
    """(verb, its other arguments) checked against the protocol; raises badVerb / badArgument."""
    verbs = params.getlist("verb")
    if len(verbs) != 1 or verbs[0] not in VERBS:
        shown = "none" if not verbs else ", ".join(verbs)
        raise OAIError("badVerb", f"The verb is missing, repeated or unknown ({shown}); verbs are {', '.join(VERBS)}.")
    verb = verbs[0]
    required, optional, exclusive = VERBS[verb]
    arguments: dict[str, str] = {}
    for name in params:
        if name == "verb":
            continue
        values = params.getlist(name)
        if name not in (*required, *optional, *((exclusive,) if exclusive else ())):
            raise OAIError("badArgument", f"{verb} takes no argument {name!r}.")
        if len(values) != 1:
            raise OAIError("badArgument", f"The argument {name!r} is repeated.")
        if len(values[0]) > MAX_ARGUMENT_LENGTH:
            raise OAIError("badArgument", f"The argument {name!r} is longer than {MAX_ARGUMENT_LENGTH} characters.")
        if _NOT_XML.search(values[0]):  # NUL and other characters no record can hold (PostgreSQL refuses NUL)
            raise OAIError("badArgument", f"The argument {name!r} holds a control character.")
        arguments[name] = values[0]
    if exclusive and exclusive in arguments:
        if len(arguments) > 1:
            raise OAIError("badArgument", f"{exclusive} is an exclusive argument: send it alone with the verb.")
        return verb, arguments
    missing = [name for name in required if name not in arguments]
    if missing:
        raise OAIError("badArgument", f"{verb} needs the argument(s) {', '.join(missing)}.")
    return verb, arguments


def _parse_date(value: str, name: str, *, end: bool) -> tuple[datetime | None, str]:
    """The instant that bounds the selection (None: no bound) and the granularity ("day" or "second")."""
    if _DAY.fullmatch(value):
        granularity, pattern = "day", "%Y-%m-%d"
    elif _SECOND.fullmatch(value):
        granularity, pattern = "second", "%Y-%m-%dT%H:%M:%SZ"
    else:
        raise OAIError("badArgument", f"{name}={value!r} is not a date (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ).")
    try:
        moment = datetime.strptime(value, pattern).replace(tzinfo=UTC)
    except ValueError as exc:  # month 13, day 32, year 0000, ...
        raise OAIError("badArgument", f"{name}={value!r} is not a valid date.") from exc
    if end:  # "until" includes the whole of its last second or day
        try:
            moment += timedelta(days=1) if granularity == "day" else timedelta(seconds=1)
        except OverflowError:  # the end of year 9999: no upper bound at all
            return None, granularity
    return moment, granularity


@dataclass(frozen=True)
class _Selection:
    verb: str
    metadata_prefix: str
    set_spec: str | None
    from_: str | None
    until: str | None
    after_pk: int = 0
    cursor: int = 0


def _selection(verb: str, arguments: dict[str, str]) -> _Selection:
    token = arguments.get("resumptionToken")
    if token is not None:
        try:
            data = signing.loads(token, salt=TOKEN_SALT, max_age=settings.OAI_TOKEN_MAX_AGE)
            selection = _Selection(**data)
        except signing.SignatureExpired as exc:
            raise OAIError("badResumptionToken", "The resumption token has expired; start the list again.") from exc
        except (signing.BadSignature, TypeError, ValueError) as exc:
            raise OAIError("badResumptionToken", "The resumption token is not valid.") from exc
        if selection.verb != verb:
            raise OAIError("badResumptionToken", f"The resumption token belongs to {selection.verb}, not {verb}.")
        return selection
    return _Selection(
        verb=verb, metadata_prefix=arguments["metadataPrefix"], set_spec=arguments.get("set"),
        from_=arguments.get("from"), until=arguments.get("until"),
    )


def _token(selection: _Selection, after_pk: int, cursor: int) -> str:
    data = {**selection.__dict__, "after_pk": after_pk, "cursor": cursor}
    return signing.dumps(data, salt=TOKEN_SALT, compress=True)


def _filtered(selection: _Selection) -> QuerySet[Item]:
    if selection.metadata_prefix not in METADATA_FORMATS:
        raise OAIError("cannotDisseminateFormat", f"The metadata format {selection.metadata_prefix!r} is not offered; "
                       f"formats are {', '.join(METADATA_FORMATS)}.")
    items = records()
    granularities = set()
    start = end = None
    if selection.from_ is not None:
        start, granularity = _parse_date(selection.from_, "from", end=False)
        granularities.add(granularity)
        items = items.filter(oai_datestamp__gte=start)
    if selection.until is not None:
        end, granularity = _parse_date(selection.until, "until", end=True)
        granularities.add(granularity)
        if end is not None:
            items = items.filter(oai_datestamp__lt=end)
    if len(granularities) > 1:
        raise OAIError("badArgument", "from and until must have the same granularity.")
    if start is not None and end is not None and start >= end:
        raise OAIError("badArgument", "from is later than until.")
    if selection.set_spec is not None:
        items = items.filter(collection__slug=selection.set_spec, collection__is_public=True)
    return items


# --- Verbs ----------------------------------------------------------------------------------------


def _identify(root: etree._Element, arguments: dict[str, str], base: str) -> None:
    identify = _sub(root, _oai("Identify"))
    _sub(identify, _oai("repositoryName"), settings.OAI_REPOSITORY_NAME)
    _sub(identify, _oai("baseURL"), base + reverse("oai"))
    _sub(identify, _oai("protocolVersion"), "2.0")
    _sub(identify, _oai("adminEmail"), settings.OAI_ADMIN_EMAIL)
    earliest = records().aggregate(earliest=Min("oai_datestamp"))["earliest"]
    _sub(identify, _oai("earliestDatestamp"), format_datestamp(earliest or timezone.now()))
    _sub(identify, _oai("deletedRecord"), "transient")
    _sub(identify, _oai("granularity"), GRANULARITY)


def _public_item(oai_id: str) -> Item:
    identifier = _item_identifier(oai_id)
    item = records().filter(identifier=identifier).first() if identifier is not None else None
    if item is None:
        raise OAIError("idDoesNotExist", f"There is no record {oai_id!r} in this repository.")
    return item


def _list_metadata_formats(root: etree._Element, arguments: dict[str, str], base: str) -> None:
    if "identifier" in arguments:
        _public_item(arguments["identifier"])
    formats = _sub(root, _oai("ListMetadataFormats"))
    for prefix, (schema, namespace) in METADATA_FORMATS.items():
        element = _sub(formats, _oai("metadataFormat"))
        _sub(element, _oai("metadataPrefix"), prefix)
        _sub(element, _oai("schema"), schema)
        _sub(element, _oai("metadataNamespace"), namespace)


def _list_sets(root: etree._Element, arguments: dict[str, str], base: str) -> None:
    if "resumptionToken" in arguments:
        raise OAIError("badResumptionToken", "ListSets is answered in one response; it has no resumption tokens.")
    collections = list(Collection.objects.visible_to(None).order_by("slug"))  # sets: what anyone may see
    if not collections:
        raise OAIError("noSetHierarchy", "The repository has no public collection, so no sets.")
    sets = _sub(root, _oai("ListSets"))
    for collection in collections:
        element = _sub(sets, _oai("set"))
        _sub(element, _oai("setSpec"), collection.slug)
        _sub(element, _oai("setName"), collection.name)
        if collection.description:
            description = _sub(element, _oai("setDescription"))
            dc = etree.SubElement(description, f"{{{NS_OAI_DC}}}dc", nsmap={"oai_dc": NS_OAI_DC, "dc": NS_DC})
            dc.set(f"{{{NS_XSI}}}schemaLocation", f"{NS_OAI_DC} {OAI_DC_SCHEMA}")
            _sub(dc, f"{{{NS_DC}}}description", collection.description)


def _get_record(root: etree._Element, arguments: dict[str, str], base: str) -> None:
    item = _public_item(arguments["identifier"])
    if arguments["metadataPrefix"] not in METADATA_FORMATS:
        raise OAIError("cannotDisseminateFormat", f"The metadata format {arguments['metadataPrefix']!r} is not offered.")
    _record(_sub(root, _oai("GetRecord")), item, base)


def _list(root: etree._Element, verb: str, arguments: dict[str, str], base: str) -> None:
    selection = _selection(verb, arguments)
    items = _filtered(selection)
    page_size = max(1, settings.OAI_PAGE_SIZE)
    page = list(items.filter(pk__gt=selection.after_pk)[: page_size + 1])
    if not page:
        raise OAIError("noRecordsMatch", "No record matches the request.")
    more = len(page) > page_size
    page = page[:page_size]
    container = _sub(root, _oai(verb))
    derivatives = derivative_labels(page) if verb == "ListRecords" else {}
    for item in page:
        if verb == "ListRecords":
            _record(container, item, base, derivatives[item.pk])
        else:
            _header(container, item)
    if more or selection.cursor:
        total = items.count()
        attributes = {"completeListSize": str(total), "cursor": str(selection.cursor)}
        if more:
            token = _token(selection, page[-1].pk, selection.cursor + len(page))
            expires = timezone.now() + timedelta(seconds=settings.OAI_TOKEN_MAX_AGE)
            attributes["expirationDate"] = format_datestamp(expires)
            _sub(container, _oai("resumptionToken"), token, **attributes)
        else:
            _sub(container, _oai("resumptionToken"), None, **attributes)  # the list is complete


HANDLERS = {
    "Identify": _identify,
    "ListMetadataFormats": _list_metadata_formats,
    "ListSets": _list_sets,
    "GetRecord": _get_record,
    "ListIdentifiers": lambda root, arguments, base: _list(root, "ListIdentifiers", arguments, base),
    "ListRecords": lambda root, arguments, base: _list(root, "ListRecords", arguments, base),
}


def respond(params, *, base: str) -> bytes:
    """The XML response to an OAI-PMH request whose arguments are ``params`` (a QueryDict)."""
    base_url = base + reverse("oai")
    try:
        verb, arguments = _arguments(params)
    except OAIError as err:
        root = _envelope(base_url, None)  # badVerb, badArgument: the request element has no attributes
        _sub(root, _oai("error"), err.message, code=err.code)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    root = _envelope(base_url, {"verb": verb, **arguments})
    try:
        HANDLERS[verb](root, arguments, base)
    except OAIError as err:
        root = _envelope(base_url, None if err.code == "badArgument" else {"verb": verb, **arguments})
        _sub(root, _oai("error"), err.message, code=err.code)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@csrf_exempt  # harvesters POST without a session; the endpoint only reads
def endpoint(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    params = request.POST if request.method == "POST" else request.GET
    body = respond(params, base=interop.base_url(request))
    response = HttpResponse(body, content_type="text/xml; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    return response
