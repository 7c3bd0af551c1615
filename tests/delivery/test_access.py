"""Who sees what on every door, and what the public reads of the provenance (issue 15, "Access";
issue 14, "Public pages").

Non-public material (items, their versions' files, thumbnails, access copies, IIIF tiles and
manifests, provenance) needs the view permission (``core.models.can_view_nonpublic``): the
Curators group and the read-only Viewers group hold it; a signed-in account without it, staff or
not, sees what anonymous visitors see. The public reads provenance without login names, worker
hosts or error text (``core.disclosure``).
"""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from restoration.core import provenance, services
from restoration.models import Item, ProvenanceEvent
from tests.support import image_bytes, token_client

pytestmark = pytest.mark.django_db

LOGIN = "jdoe-7f3a"  # a login name that appears nowhere else on a page
WORKER = "vm:13746"  # a worker's host:pid
SERVER_PATH = "/srv/archive/var/tmp/job-42/source.tif"
MODEL = "restore-unet-test"
WEIGHTS = "ab12cd34ef56" + "0" * 52


@pytest.fixture
def named_curator(django_user_model):
    """A curator whose login name the tests look for in responses."""
    user = django_user_model.objects.create_user(LOGIN, password="jdoe-pass-1234", is_staff=True)
    user.groups.add(Group.objects.get(name="Curators"))
    return user


def _store(identifier: str, user, **metadata):
    return services.ingest_upload(io.BytesIO(image_bytes()), filename=f"{identifier}.png",
                                  metadata={"identifier": identifier, **metadata}, collection=None, user=user,
                                  route="api")


def _derive(source, user, *, preferred: bool = False):
    """A derivative recorded as the worker records one (its detail names the worker's host:pid)."""
    version = services.add_derivative(
        source, io.BytesIO(image_bytes()), kind="restored", filename=f"{source.item.identifier}-restored.png",
        user=user, software={"name": "gan_engine", "version": "0.1.0", "model": MODEL, "weights_sha256": WEIGHTS},
        detail={"job": 7, "task": "restore", "model": MODEL, "weights_sha256": WEIGHTS, "worker": WORKER},
    )
    # Accepted, as a curator would before preferring it (pending results are for staff only).
    services.review_version(version, "accepted", user=user)
    if preferred:
        services.set_preferred_version(version, user=user)
    return version


@pytest.fixture
def archive(api_media, named_curator):
    """A public item with a preferred restored version and a failed job, and a non-public item."""
    public = _store("PUB-1", named_curator, title="Harbour at dawn", is_public=True)
    restored = _derive(public, named_curator, preferred=True)
    # The event the worker writes when a job fails (jobs.worker._record_failure).
    provenance.record_failed_derivation(
        public.item, sources=[public], user=named_curator, software={"name": "gan_engine", "version": "0.1.0"},
        detail={"job": 8, "task": "restore", "error": f"FileNotFoundError: {SERVER_PATH}", "worker": WORKER},
    )
    hidden = _store("HIDDEN-1", named_curator, title="Not yet public")
    hidden_restored = _derive(hidden, named_curator)
    return {"public": public, "restored": restored, "hidden": hidden, "hidden_restored": hidden_restored}


def session(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def hidden_urls(archive) -> list[str]:
    """Every door to the non-public item: API, pages, IIIF image service and manifest."""
    item, original, derived = archive["hidden"].item, archive["hidden"], archive["hidden_restored"]
    urls = [
        f"/api/items/{item.pk}/",
        f"/api/items/{item.pk}/versions/",
        f"/api/items/{item.pk}/provenance/",
        reverse("pages:item", args=[item.identifier]),
        f"/iiif/3/items/{item.identifier}/manifest.json",
    ]
    for version in (original, derived):
        urls += [
            f"/api/versions/{version.pk}/",
            f"/api/versions/{version.pk}/file/",
            f"/api/versions/{version.pk}/thumbnail/",
            f"/api/versions/{version.pk}/access/",
            f"/iiif/3/{version.pk}/info.json",
            f"/iiif/3/{version.pk}/full/max/0/default.jpg",
            f"/iiif/3/{version.pk}/0,0,8,8/8,/0/default.png",
        ]
    return urls


# --- Who sees non-public material -----------------------------------------------------------------


@pytest.mark.parametrize("who", [None, "reader", "staff"])
def test_every_door_to_a_non_public_item_is_404_without_the_view_permission(request, archive, who):
    user = request.getfixturevalue(who) if who else None
    clients = [session(user)] + ([token_client(user)] if user else [])
    for client in clients:  # the session (pages, IIIF) and an API token alike
        for url in hidden_urls(archive):
            assert client.get(url).status_code == 404, (who, url)
    assert "HIDDEN-1" not in session(user).get("/items/").content.decode()
    assert [row["identifier"] for row in token_client(user).get("/api/items/").json()["results"]] == ["PUB-1"]


@pytest.mark.parametrize("who", ["viewer", "curator"])
def test_viewers_and_curators_reach_every_door_to_a_non_public_item(request, archive, who):
    user = request.getfixturevalue(who)
    page = reverse("pages:item", args=["HIDDEN-1"])
    for client in (session(user), token_client(user)):
        for url in hidden_urls(archive):
            if url == page and client.__class__ is not Client:
                continue  # the pages authenticate by session only
            assert client.get(url).status_code == 200, (who, url)
    assert "HIDDEN-1" in session(user).get("/items/").content.decode()


@pytest.mark.parametrize("who", [None, "reader", "viewer"])
def test_oai_pmh_publishes_public_items_only_whoever_asks(request, archive, who):
    client = session(request.getfixturevalue(who) if who else None)
    body = client.get("/oai", {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}).content.decode()
    assert "PUB-1" in body and "HIDDEN-1" not in body


def test_a_viewer_reads_but_writes_nothing(viewer, archive, api_media):
    api = token_client(viewer)
    item = archive["hidden"].item
    before = (Item.objects.count(), ProvenanceEvent.objects.count())

    assert api.post("/api/items/", {"file": io.BytesIO(image_bytes()), "identifier": "V-1"},
                    format="multipart").status_code == 403
    assert api.patch(f"/api/items/{item.pk}/", {"title": "Changed"}, format="json").status_code == 403
    assert api.post("/api/collections/", {"name": "New", "slug": "new"}, format="json").status_code == 403
    assert api.post(f"/api/items/{item.pk}/jobs/", {"task": "restore"}, format="json").status_code == 403
    assert api.get("/api/jobs/").status_code == 200  # jobs are readable to viewers
    page = session(viewer).post(reverse("pages:item", args=[item.identifier]), {"task": "restore"})
    assert page.status_code == 403
    assert (Item.objects.count(), ProvenanceEvent.objects.count()) == before
    assert Item.objects.get(pk=item.pk).title == "Not yet public"


# --- What the public reads of the provenance ----------------------------------------------------------


@pytest.mark.parametrize("who", [None, "reader", "staff"])
def test_public_provenance_names_no_login_no_worker_host_no_error_text(request, archive, who):
    user = request.getfixturevalue(who) if who else None
    item, restored = archive["public"].item, archive["restored"]
    page = session(user).get(reverse("pages:item", args=[item.identifier])).content.decode()
    api = token_client(user)  # anonymous for None
    responses = {
        "page": page,
        "provenance": api.get(f"/api/items/{item.pk}/provenance/").content.decode(),
        "item": api.get(f"/api/items/{item.pk}/").content.decode(),
        "versions": api.get(f"/api/items/{item.pk}/versions/").content.decode(),
        "version": api.get(f"/api/versions/{restored.pk}/").content.decode(),
        "manifest": session(user).get(f"/iiif/3/items/{item.identifier}/manifest.json").content.decode(),
    }
    for name, body in responses.items():
        for secret in (LOGIN, WORKER, SERVER_PATH, "FileNotFoundError"):
            assert secret not in body, (who, name, secret)

    # What is said instead: a role, and that the work failed.
    assert "Implementer:</span> Archive staff" in page
    assert "for Archive staff" in page  # "Stored <date> for Archive staff", not the login name
    events = api.get(f"/api/items/{item.pk}/provenance/").json()["results"]
    people = {agent["name"] for event in events for agent in event["agents"] if agent["type"] == "person"}
    assert people == {"Archive staff"}
    failed = next(event for event in events if event["outcome"] == "failure")
    assert failed["detail"]["error"] == "The work failed; the archive's staff can see why."
    assert "worker" not in failed["detail"]
    assert api.get(f"/api/versions/{restored.pk}/").json()["created_by"] == "Archive staff"
    # The software that made the derivative stays named: visitors need it to judge the picture.
    assert MODEL in page and WEIGHTS in page


@pytest.mark.parametrize("who", ["viewer", "curator"])
def test_staff_with_the_view_permission_read_the_full_provenance(request, archive, who):
    user = request.getfixturevalue(who)
    item = archive["public"].item
    page = session(user).get(reverse("pages:item", args=[item.identifier])).content.decode()
    events = token_client(user).get(f"/api/items/{item.pk}/provenance/").json()["results"]

    assert f"Implementer:</span> {LOGIN}" in page and f"for {LOGIN}" in page
    assert WORKER in page and SERVER_PATH in page
    failed = next(event for event in events if event["outcome"] == "failure")
    assert failed["detail"]["error"] == f"FileNotFoundError: {SERVER_PATH}" and failed["detail"]["worker"] == WORKER
    assert LOGIN in {agent["name"] for event in events for agent in event["agents"]}


# --- The AI marker -------------------------------------------------------------------------------


def test_grid_covers_made_by_a_model_carry_a_visible_ai_marker(client, archive, named_curator):
    plain = _store("PUB-2", named_curator, title="Market square", is_public=True)
    _derive(plain, named_curator, preferred=False)  # a derivative that is not the cover

    body = client.get("/items/").content.decode()

    marker = f'<span class="ai-marker" role="img" aria-label="Preferred version made by model {MODEL}" ' \
             f'title="Preferred version made by model {MODEL}">AI</span>'
    assert body.count(marker) == 1  # PUB-1's cover is its restored version; PUB-2 shows its original
    card = body[body.index(reverse("pages:item", args=["PUB-1"])):]
    assert card.index(marker) < card.index('class="item-title">Harbour at dawn')  # on PUB-1's thumbnail
    assert f'/api/versions/{archive["restored"].pk}/thumbnail/' in body


def test_the_item_page_marks_each_version_made_by_a_model(client, archive):
    body = client.get(reverse("pages:item", args=["PUB-1"])).content.decode()
    versions = body[body.index('id="versions-heading"'):body.index('id="provenance-heading"')]
    assert versions.count('class="ai-marker"') == 1
    assert f'title="Preferred version made by model {MODEL}">AI</span>' in versions


def test_the_public_reads_who_cancelled_a_job_as_a_role():
    from restoration.core.disclosure import PUBLIC, Audience

    detail = {"job": 3, "cancelled": True, "cancelled_by": LOGIN}
    assert PUBLIC.detail(detail) == {"job": 3, "cancelled": True, "cancelled_by": "Archive staff"}
    assert Audience(full=True).detail(detail) == detail
