"""What the provenance says to whom: the one presenter of agents, accounts and event details.

Those who may see non-public material (``models.can_view_nonpublic``: the Curators and Viewers
groups) read the full record. Everyone else, anonymous or signed in without that permission,
reads a public account of the same events:

- a person is named by a role ("Archive staff"), never by login name (a login name is half of
  a credential, and staff did not agree to be named to the public);
- where the work ran (the worker's ``host:pid``) is left out;
- a failure's error text, which may hold server paths, becomes one generic sentence.

Software agents (the archive, the GAN engine, its model and weights) stay named: that is what a
visitor needs to judge a derivative. The API and the pages read provenance through ``Audience``;
the BagIt export is a preservation copy made by staff and keeps the full record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from restoration.core.models import Agent, AgentType, can_view_nonpublic

# How a person agent (or the account that stored a version) is named to the public.
PERSON_ROLE = "Archive staff"
# What a failed event's ``error`` says to the public.
FAILURE_TEXT = "The work failed; the archive's staff can see why."
# Event detail keys left out for the public: where the work ran (``host:pid``).
PRIVATE_DETAIL_KEYS = frozenset({"worker"})
# Event detail keys whose value the public reads replaced by a fixed text.
# (A cancelled job names who cancelled it: the public reads the role, as for agents.)
REPLACED_DETAIL = {"error": FAILURE_TEXT, "cancelled_by": PERSON_ROLE}


@dataclass(frozen=True)
class Audience:
    """Who reads: ``full`` for those who may see non-public material, else the public account."""

    full: bool

    @classmethod
    def of(cls, user) -> "Audience":
        """The audience of ``user`` (None or anonymous: the public)."""
        return cls(full=can_view_nonpublic(user))

    def agent_name(self, agent: Agent) -> str:
        """An agent's name: a person's login name only for the full audience, else the role."""
        if self.full or agent.agent_type != AgentType.PERSON:
            return agent.name
        return PERSON_ROLE

    def account(self, user) -> str | None:
        """A user account (who stored a version): its login name, or the role for the public;
        None when there is no account."""
        if user is None:
            return None
        return user.get_username() if self.full else PERSON_ROLE

    def detail(self, detail: Mapping[str, Any] | None) -> dict[str, Any]:
        """An event's (or agent's) detail as this audience may read it (a new dict)."""
        if self.full:
            return dict(detail or {})
        shown = {}
        for key, value in (detail or {}).items():
            if key in PRIVATE_DETAIL_KEYS:
                continue
            shown[key] = REPLACED_DETAIL[key] if key in REPLACED_DETAIL and value else value
        return shown


PUBLIC = Audience(full=False)
