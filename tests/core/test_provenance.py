"""restoration.core.provenance: the one writer of PREMIS events."""

from __future__ import annotations

import pytest

from restoration.core import provenance
from restoration.models import Agent, EventAgent, EventObject, EventType, Item, Version

pytestmark = pytest.mark.django_db


@pytest.fixture
def version():
    item = Item.objects.create(identifier="ID-1")
    return Version.objects.create(
        item=item, file="items/a.png", sha256="a" * 64, bytes=1, width=1, height=1, mode="L", bit_depth=8,
        mime_type="image/png",
    )


def test_record_event_links_agents_and_objects_with_premis_roles(version, curator):
    model = Agent.objects.create(agent_type="software", name="restore-gan", version="3")
    event = provenance.record_event(
        EventType.FIXITY_CHECK,
        outcome="failure",
        detail={"expected": "a" * 64, "actual": "missing"},
        sources=[version],
        user=curator,
        software={"name": "photo-archive", "version": "9.9", "build": "abc"},
        extra_agents=[(model, EventAgent.Role.VALIDATOR)],
    )

    assert event.item == version.item  # taken from the version
    assert (event.event_type, event.outcome, event.detail["actual"]) == ("fixity check", "failure", "missing")
    assert event.event_type_uri.endswith("/fix") and event.timestamp is not None
    assert list(EventObject.objects.filter(event=event).values_list("version", "role")) == [(version.pk, "source")]
    links = {(link.agent.agent_type, link.agent.name, link.role) for link in EventAgent.objects.filter(event=event)}
    assert links == {
        ("person", "curator", "implementer"),
        ("software", "photo-archive", "executing program"),
        ("software", "restore-gan", "validator"),
    }
    software = Agent.objects.get(name="photo-archive")
    assert (software.version, software.detail) == ("9.9", {"build": "abc"})


def test_agents_are_reused(version, curator):
    for _ in range(2):
        provenance.record_event(EventType.VALIDATION, outcomes=[version], user=curator, software=provenance.archive_software())
    assert Agent.objects.filter(agent_type="person", user=curator).count() == 1
    assert Agent.objects.filter(agent_type="software").count() == 1
    assert provenance.software_agent("photo-archive", provenance.SOFTWARE_VERSION).pk == Agent.objects.get(agent_type="software").pk
    assert provenance.software_agent("photo-archive", provenance.SOFTWARE_VERSION, model="x").detail == {"model": "x"}
    assert Agent.objects.filter(agent_type="software").count() == 2


def test_anonymous_user_is_not_an_agent(version, anonymous):
    event = provenance.record_event(EventType.VALIDATION, outcomes=[version], user=anonymous)
    assert not EventAgent.objects.filter(event=event).exists()


@pytest.mark.parametrize("kwargs", [{"event_type": "tagging"}, {"event_type": EventType.VALIDATION, "outcome": "maybe"}])
def test_unknown_event_type_or_outcome_is_refused(kwargs, version):
    event_type = kwargs.pop("event_type")
    with pytest.raises(ValueError):
        provenance.record_event(event_type, outcomes=[version], **kwargs)


def test_software_version_comes_from_the_project():
    assert provenance.SOFTWARE_VERSION not in ("", "unknown")
    assert provenance.archive_software() == {"name": "photo-archive", "version": provenance.SOFTWARE_VERSION}
