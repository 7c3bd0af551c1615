"""The pages (restoration/pages/): what each visitor sees, search, filters, pagination, the
queue form and its refusals (permission, CSRF), with Django's test client.

The browser tests (tests/browser/) drive the same pages in Chromium.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from restoration.jobs import engine
from restoration import jobs
from restoration.core import services
from restoration.models import Item, JobStatus, RestorationJob, Version
from restoration.delivery.pages import display
from tests.support import image_bytes

pytestmark = pytest.mark.django_db

WEIGHTS = "ab12cd34ef56" + "0" * 52
MODEL = "restore-unet-test"


def page_url(identifier: str) -> str:
    return reverse("pages:item", args=[identifier])


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def add_restored(source: Version, *, kind: str = "restored", user=None, model: str = MODEL,
                 weights: str = WEIGHTS, data: bytes | None = None, review: str | None = "accepted") -> Version:
    """A derivative recorded as restoration jobs record theirs (model and weights in the event),
    then reviewed (``review``; accepted by default, so that visitors see it; None leaves it
    pending, as a job leaves it: tests/delivery/test_review_pages.py)."""
    version = services.add_derivative(
        source, io.BytesIO(data or image_bytes(size=(24, 16))), kind=kind, filename=f"{source.item.identifier}-{kind}.png",
        user=user, software={"name": "gan_engine", "version": "0.1.0", "model": model, "weights_sha256": weights},
        detail={"task": "restore", "model": model, "weights_sha256": weights, "parameters": {"strength": 1.0}},
    )
    if review is not None:
        services.review_version(version, review, reason="looks right" if review == "accepted" else "test", user=user)
    return version


class Images(HTMLParser):
    """Collects <img> attributes and the ids and roles of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict] = []
        self.elements: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag == "img":
            self.images.append(attributes)


def parsed(response) -> Images:
    parser = Images()
    parser.feed(response.content.decode())
    return parser


@pytest.fixture
def archive(ingest_item, public_collection, private_collection, curator):
    """Public and hidden items in public and private collections, one of them restored."""
    harbour = ingest_item("pub-1", title="Harbour at dawn", description="Fishing boats", collection=public_collection,
                          is_public=True)
    ingest_item("pub-2", title="Market square", creator="A. Fotograf", collection=public_collection, is_public=True)
    ingest_item("hidden-1", title="Secret harbour", collection=public_collection, is_public=False)
    ingest_item("private-1", title="Family picnic", collection=private_collection, is_public=True)
    ingest_item("loose-1", title="Loose print", is_public=True)
    restored = add_restored(harbour, user=curator)
    return {"harbour": harbour, "restored": restored}


# --- Collections ----------------------------------------------------------------------------------


def test_home_lists_public_collections_to_anonymous_visitors(client, archive):
    response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Public prints" in body and "Family album" not in body
    assert '<meta name="viewport"' in body
    assert re.search(r"2 items", body)  # pub-1 and pub-2; hidden-1 is not counted for visitors
    assert 'href="/accounts/login/' in body


def test_home_lists_every_collection_to_viewers_only(reader, viewer, archive):
    body = client_for(viewer).get("/").content.decode()
    assert "Public prints" in body and "Family album" in body and "3 items" in body
    body = client_for(reader).get("/").content.decode()  # signed in, without the view permission
    assert "Public prints" in body and "Family album" not in body and "2 items" in body


def test_a_private_collection_is_404_for_visitors_and_shown_to_viewers(client, reader, viewer, archive):
    assert client.get("/collections/family-album/").status_code == 404
    assert client.get("/collections/no-such-thing/").status_code == 404
    assert client_for(reader).get("/collections/family-album/").status_code == 404
    response = client_for(viewer).get("/collections/family-album/")
    assert response.status_code == 200 and "private-1" in response.content.decode()


def test_the_grid_shows_visitors_public_items_only(client, archive):
    body = client.get("/collections/public-prints/").content.decode()
    assert page_url("pub-1") in body and page_url("pub-2") in body
    assert "hidden-1" not in body and "Secret harbour" not in body


def test_all_items_lists_what_the_visitor_may_see(client, reader, viewer, archive):
    for visitor in (client, client_for(reader)):
        body = visitor.get("/items/").content.decode()
        assert {"pub-1", "pub-2", "loose-1"} <= set(re.findall(r'<code>([\w-]+)</code>', body))
        assert "hidden-1" not in body and "private-1" not in body
    body = client_for(viewer).get("/items/").content.decode()
    assert "hidden-1" in body and "private-1" in body


def test_the_grid_shows_the_preferred_version_and_every_image_has_alt_text(client, archive, curator):
    services.set_preferred_version(archive["restored"], user=curator)
    page = parsed(client.get("/collections/public-prints/"))
    assert len(page.images) == 2 and all(img.get("alt", "").strip() for img in page.images)
    restored_alt = next(img["alt"] for img in page.images if f"/{archive['restored'].pk}/" in img["src"])
    assert restored_alt == f"Restored version of Harbour at dawn: Preferred version made by model {MODEL}"


# --- Search, filters, pagination ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, expected",
    [
        ("harbour", {"pub-1"}),  # title (the hidden "Secret harbour" is not found by visitors)
        ("fishing", {"pub-1"}),  # description
        ("fotograf", {"pub-2"}),  # creator
        ("pub", {"pub-1", "pub-2"}),  # identifier
        ("harbour dawn", {"pub-1"}),  # every word must match
        ("harbour market", set()),
    ],
)
def test_search_looks_in_title_identifier_description_and_creator(client, archive, query, expected):
    body = client.get("/collections/public-prints/", {"q": query}).content.decode()
    assert set(re.findall(r'href="/items/([\w-]+)/"', body)) == expected


def test_filters_by_restored_versions_and_by_kind(client, reader, archive):
    found = lambda params: set(re.findall(r'href="/items/([\w-]+)/"', client.get("/items/", params).content.decode()))  # noqa: E731
    assert found({"restored": "on"}) == {"pub-1"}
    assert found({"kind": "restored"}) == {"pub-1"}
    assert found({"kind": "colorized"}) == set()
    assert found({"q": "pub", "restored": "on"}) == {"pub-1"}


def test_an_unknown_kind_is_reported_and_ignored(client, archive):
    response = client.get("/items/", {"kind": "painted"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Select a valid choice" in body and page_url("pub-2") in body


def test_pagination_keeps_the_search_and_refuses_pages_past_the_end(client, db):
    for n in range(30):
        Item.objects.create(identifier=f"box-{n:02d}", title=f"Box {n}", is_public=True)
    first = client.get("/items/", {"q": "box"})
    body = first.content.decode()
    assert len(re.findall(r'class="item-card"', body)) == 24
    assert "page 1 of 2" in body and 'href="?q=box&amp;page=2"' in body
    second = client.get("/items/", {"q": "box", "page": 2}).content.decode()
    assert len(re.findall(r'class="item-card"', second)) == 6 and 'href="?q=box&amp;page=1"' in second
    assert client.get("/items/", {"q": "box", "page": 3}).status_code == 404
    assert "No image" in body  # items without any version yet are listed with a placeholder


# --- Item page ------------------------------------------------------------------------------------


def test_item_pages_follow_the_visibility_rules(client, reader, viewer, archive):
    assert client.get(page_url("pub-1")).status_code == 200
    assert client.get(page_url("hidden-1")).status_code == 404  # not public: 404, as the API answers
    assert client.get(page_url("private-1")).status_code == 404  # public item, private collection
    assert client.get(page_url("loose-1")).status_code == 200  # public item outside any collection
    assert client.get(page_url("no-such-item")).status_code == 404
    for identifier in ("hidden-1", "private-1"):
        assert client_for(reader).get(page_url(identifier)).status_code == 404  # signed in is not enough
        assert client_for(viewer).get(page_url(identifier)).status_code == 200


def test_an_identifier_with_slashes_has_a_page(client, ingest_item):
    ingest_item("ark:/12148/btv1b8", is_public=True)
    response = client.get("/items/ark:/12148/btv1b8/")
    assert response.status_code == 200 and "ark:/12148/btv1b8" in response.content.decode()


def test_the_item_page_shows_metadata_versions_and_provenance(client, archive, curator):
    source, restored = archive["harbour"], archive["restored"]
    services.set_preferred_version(restored, user=curator)
    body = client.get(page_url("pub-1")).content.decode()
    # Dublin Core
    assert "Harbour at dawn" in body and "Fishing boats" in body and "StillImage" in body
    # every version: kind, size, checksum, download link, preferred flag
    for version in (source, restored):
        assert version.sha256 in body
        assert f'href="/api/versions/{version.pk}/file/"' in body
        assert f"{version.width} × {version.height} px" in body
    assert "★ preferred" in body
    # the AI label, on the version and in the viewer
    restored.refresh_from_db()
    label = (f"Restored by model {MODEL}, weights {WEIGHTS[:12]}…, on "
             f"{restored.events.get(event_type='modification').timestamp.date().isoformat()}; not the original")
    assert body.count(label) >= 2
    # the timeline: events, agents, the model's weights checksum, the original's checksum
    assert "Ingestion" in body and "Message digest calculation" in body and "Modification" in body
    assert "http://id.loc.gov/vocabulary/preservation/eventType/ing" in body
    assert "Executing program:" in body and "gan_engine 0.1.0" in body and WEIGHTS in body
    assert "Implementer:</span> Archive staff" in body  # a role for visitors, never the login name


def test_the_viewer_compares_the_original_with_a_derivative(client, archive, curator):
    services.set_preferred_version(archive["restored"], user=curator)
    response = client.get(page_url("pub-1"))
    body = response.content.decode()
    page = parsed(response)
    slider = next(attrs for tag, attrs in page.elements if attrs.get("role") == "slider")
    assert slider["tabindex"] == "0" and slider["aria-valuenow"] == "50"
    assert slider["aria-valuemin"] == "0" and slider["aria-valuemax"] == "100" and slider.get("aria-label")
    assert 'id="viewer-config"' in body and "restoration/viewer.js" in body
    assert "vendor/openseadragon/openseadragon.min.js" in body  # served here, no CDN
    assert f'/iiif/3/{archive["harbour"].pk}/info.json' in body and f'/iiif/3/{archive["restored"].pk}/info.json' in body
    assert f'src="/api/versions/{archive["harbour"].pk}/access/"' in body  # without scripts: the access copy
    assert all(img.get("alt", "").strip() for img in page.images)
    assert 'name="viewer-mode" value="side"' in body  # side by side as the alternative


def test_compare_chooses_the_derivative(client, archive, curator):
    second = add_restored(archive["harbour"], kind="colorized", user=curator, model="colour-model")
    body = client.get(page_url("pub-1"), {"compare": archive["restored"].pk}).content.decode()
    assert f'data-version="{archive["restored"].pk}"' in body
    services.set_preferred_version(second, user=curator)
    body = client.get(page_url("pub-1")).content.decode()  # default: the preferred derivative
    assert f'data-version="{second.pk}"' in body and "Colorized by model colour-model" in body
    body = client.get(page_url("pub-1"), {"compare": "junk"}).content.decode()
    assert f'data-version="{second.pk}"' in body


def test_an_item_without_derivatives_has_a_plain_viewer(client, archive):
    body = client.get(page_url("pub-2")).content.decode()
    assert 'role="slider"' not in body and 'data-mode="single"' in body and "not the original" not in body


def test_the_label_comes_from_what_a_real_job_records(gan_settings, enqueued, archive, curator, client):
    job = jobs.submit_job(archive["harbour"].item, task="restore", user=curator).job
    jobs.execute_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    services.review_version(job.result_version, "accepted", user=curator)  # a job's result is pending until then
    shown = {s.version.pk: s for s in display.shown_versions(job.item, curator)}[job.result_version_id]
    assert (shown.model, shown.weights_sha256) == (job.model_name, job.weights_sha256)
    body = client.get(page_url("pub-1"), {"compare": job.result_version_id}).content.decode()
    assert f"Restored by model {job.model_name}, weights {job.weights_sha256[:12]}…" in body


# --- Queueing jobs ------------------------------------------------------------------------------------


def test_only_curators_see_the_queue_form(client, reader, staff, curator, archive, gan_settings):
    assert 'id="queue-form"' not in client.get(page_url("pub-1")).content.decode()
    for user in (reader, staff):
        assert 'id="queue-form"' not in client_for(user).get(page_url("pub-1")).content.decode()
    body = client_for(curator).get(page_url("pub-1")).content.decode()
    assert 'id="queue-form"' in body and '<option value="restore" selected>Restore</option>' in body
    assert 'name="restore-strength"' in body and 'name="restore-tile"' not in body
    assert "restoration/jobs.js" in body
    page = parsed(client_for(curator).get(page_url("pub-1")))
    ids = {attrs.get("id") for _, attrs in page.elements}
    labelled = {attrs.get("for") for tag, attrs in page.elements if tag == "label"}
    controls = [attrs for tag, attrs in page.elements if tag in ("input", "select")
                and attrs.get("type") not in ("hidden", "radio", "checkbox")]
    assert controls and all(c.get("id") in labelled and c.get("id") in ids for c in controls if c.get("id"))


def test_only_the_available_tasks_are_offered(curator, archive, gan_settings, settings, tmp_path):
    settings.GAN_WEIGHTS = {**settings.GAN_WEIGHTS, "restore": tmp_path / "missing.safetensors"}
    assert engine.available_tasks() == ()
    body = client_for(curator).get(page_url("pub-1")).content.decode()
    assert 'id="queue-form"' not in body and "no model weights are installed" in body


def test_queueing_is_refused_to_everyone_but_curators(client, reader, staff, archive, gan_settings, enqueued):
    data = {"task": "restore", "source_version": archive["harbour"].pk}
    assert client.post(page_url("pub-1"), data).status_code == 403
    assert client.post(page_url("hidden-1"), data).status_code == 404  # hidden: not even a 403
    for user in (reader, staff):
        assert client_for(user).post(page_url("pub-1"), data).status_code == 403
    assert RestorationJob.objects.count() == 0 and enqueued == []


def test_queueing_without_the_csrf_token_is_refused(curator, archive, gan_settings, enqueued):
    client = Client(enforce_csrf_checks=True)
    client.force_login(curator)
    data = {"task": "restore", "source_version": archive["harbour"].pk}
    assert client.post(page_url("pub-1"), data).status_code == 403
    assert client.post(page_url("pub-1"), data, HTTP_ACCEPT="application/json").status_code == 403
    assert RestorationJob.objects.count() == 0

    client.get(page_url("pub-1"))  # the page sets the CSRF cookie; the form carries the token
    token = client.cookies["csrftoken"].value
    response = client.post(page_url("pub-1"), {**data, "csrfmiddlewaretoken": token})
    assert response.status_code == 303 and RestorationJob.objects.count() == 1


def test_a_curator_queues_a_job_from_the_form(curator, archive, gan_settings, enqueued):
    client = client_for(curator)
    response = client.post(page_url("pub-1"), {"task": "restore", "source_version": archive["harbour"].pk,
                                               "restore-strength": "0.5", "restore-seed": "3"})
    assert response.status_code == 303 and response["Location"] == page_url("pub-1")
    job = RestorationJob.objects.get()
    assert (job.task, job.params["strength"], job.params["seed"], job.requested_by) == ("restore", 0.5, 3, curator)
    assert enqueued == [job.pk]
    body = client.get(page_url("pub-1")).content.decode()
    assert f"Job {job.pk} queued" in body  # the message
    assert f'data-status-url="/api/jobs/{job.pk}/"' in body and 'data-status="queued"' in body


def test_the_script_gets_json_and_the_same_recipe_gives_the_same_job(curator, archive, gan_settings, enqueued):
    client = client_for(curator)
    data = {"task": "restore", "source_version": archive["harbour"].pk}
    response = client.post(page_url("pub-1"), data, HTTP_ACCEPT="application/json")
    assert response.status_code == 202
    body = response.json()
    assert body["created"] is True and body["job"]["status"] == "queued"
    assert body["job"]["status_url"] == f"/api/jobs/{body['job']['id']}/"
    again = client.post(page_url("pub-1"), data, HTTP_ACCEPT="application/json")
    assert again.status_code == 202 and again.json()["created"] is False
    assert again.json()["job"]["id"] == body["job"]["id"]
    polled = client.get(body["job"]["status_url"])  # the API detail the script polls, with the session
    assert polled.status_code == 200 and polled.json()["status"] == "queued"


def test_bad_parameters_are_refused_with_the_reason(curator, archive, gan_settings, enqueued):
    client = client_for(curator)
    data = {"task": "restore", "source_version": archive["harbour"].pk, "restore-strength": "2"}
    response = client.post(page_url("pub-1"), data, HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and "restore-strength" in response.json()["errors"]
    response = client.post(page_url("pub-1"), {**data, "restore-strength": "1", "task": "colorize"},
                           HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and "task" in response.json()["errors"]
    response = client.post(page_url("pub-1"), data)  # without the script: the page again, with the error
    assert response.status_code == 400 and "less than or equal to 1" in response.content.decode()
    assert RestorationJob.objects.count() == 0


def test_a_version_of_another_item_is_refused(curator, archive, gan_settings, enqueued):
    other = Version.objects.get(item__identifier="pub-2")
    response = client_for(curator).post(page_url("pub-1"), {"task": "restore", "source_version": other.pk},
                                        HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and RestorationJob.objects.count() == 0


def test_job_lists_are_shown_to_curators_only(client, reader, curator, archive, gan_settings, enqueued):
    jobs.submit_job(archive["harbour"].item, task="restore", user=curator)
    assert "Latest jobs" not in client_for(reader).get(page_url("pub-1")).content.decode()
    assert "Latest jobs" in client_for(curator).get(page_url("pub-1")).content.decode()


def test_a_curator_cancels_a_running_job_from_the_page_which_shows_the_time_left(
    client, reader, staff, curator, archive, gan_settings, enqueued
):
    from datetime import timedelta

    from django.utils import timezone

    from restoration.jobs import worker

    job = jobs.submit_job(archive["harbour"].item, task="restore", user=curator).job
    assert worker._claim(job.pk)
    RestorationJob.objects.filter(pk=job.pk).update(progress=0.25, started_at=timezone.now() - timedelta(seconds=60))
    curator_client = client_for(curator)
    body = curator_client.get(page_url("pub-1")).content.decode()
    assert "Running, 25%" in body and "about 3 min left" in body  # 60 s for a quarter: 180 s to go
    assert f'name="cancel_job" value="{job.pk}"' in body
    assert 'name="cancel_job"' not in client_for(staff).get(page_url("pub-1")).content.decode()  # may only look
    assert client_for(staff).post(page_url("pub-1"), {"cancel_job": job.pk}).status_code == 403

    response = curator_client.post(page_url("pub-1"), {"cancel_job": job.pk}, HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json()["detail"] == f"Job {job.pk} stops at its next tile; nothing of it will be stored."
    assert response.json()["job"]["cancel_requested"] is True and response.json()["job"]["cancellable"] is False
    assert RestorationJob.objects.get(pk=job.pk).cancel_requested_by == curator
    body = curator_client.get(page_url("pub-1")).content.decode()
    assert "Running, 25%, stopping" in body and f'name="cancel_job" value="{job.pk}"' not in body
    other = Version.objects.get(item__identifier="pub-2")
    foreign = jobs.submit_job(other.item, task="restore", user=curator).job
    assert curator_client.post(page_url("pub-1"), {"cancel_job": foreign.pk},  # not this item's job
                               HTTP_ACCEPT="application/json").status_code == 404
    assert curator_client.post(page_url("pub-1"), {"cancel_job": "9" * 40},
                               HTTP_ACCEPT="application/json").status_code == 404
    response = curator_client.post(page_url("pub-1"), {"cancel_job": foreign.pk})  # without the script
    assert response.status_code == 303 and RestorationJob.objects.get(pk=foreign.pk).status == "queued"


# --- Accounts ---------------------------------------------------------------------------------------


def test_login_and_logout(client, curator):
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and 'for="id_username"' in page.content.decode()
    response = client.post("/accounts/login/", {"username": "curator", "password": "curator-pass-1234"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert "Signed in as" in client.get("/").content.decode()
    assert client.post("/accounts/logout/").status_code == 302
    assert "Signed in as" not in client.get("/").content.decode()


def test_a_wrong_password_is_refused(client, curator):
    response = client.post("/accounts/login/", {"username": "curator", "password": "nope"})
    assert response.status_code == 200 and "role=\"alert\"" in response.content.decode()
