"""The signed-in user's groups from Microsoft Graph, for Azure AD's groups overage.

When a user is in more groups than a token can carry, Azure AD leaves ``groups`` out and says
so (``hasgroups: true`` in a token from the authorize endpoint, ``_claim_names`` naming a
``groups`` source in one from the token endpoint). The app then asks Graph:
``GET {graph}/v1.0/me/transitiveMemberOf?$select=id&$top=999`` (the groups claim counts
transitive memberships too), following ``@odata.nextLink`` pages. Delegated ``User.Read`` is
enough for the signed-in user's own memberships.

Pure: ``build_*`` describes a request, ``parse_*`` reads an answer; the caller sends them and
bounds the number of pages. A next link must stay on Graph's origin (a page that points
elsewhere is refused: the bearer token would go with it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from aadweb.errors import InvalidResponse
from aadweb.protocol.graph import build_bearer_get, raise_for_graph_error
from aadweb.protocol.http import HttpRequest, HttpResponse
from aadweb.protocol.metadata import same_origin
from aadweb.secret import Secret

__all__ = ["MAX_GROUP_PAGES", "GroupsPage", "build_groups_request", "groups_url", "parse_groups_page"]

#: A user in more than this many pages of groups (999 a page) is refused rather than followed on.
MAX_GROUP_PAGES: Final = 20
_WHAT: Final = "Graph transitiveMemberOf response"
_GROUP_TYPE: Final = "#microsoft.graph.group"
_OBJECT_ID: Final = re.compile(r"[0-9A-Za-z-]{1,64}")


def groups_url(graph_url: str) -> str:
    """The first page's URL for the ``/me`` URL ``graph_url`` (``AADWEB_GRAPH_URL``)."""
    query = urlencode({"$select": "id", "$top": "999"})
    return f"{graph_url.rstrip('/')}/transitiveMemberOf?{query}"


def build_groups_request(*, url: str, graph_url: str, access_token: Secret, client_request_id: str) -> HttpRequest:
    """``GET url`` with the bearer token; ``url`` is the first page or a next link on Graph's origin."""
    if not same_origin(url, graph_url):
        raise InvalidResponse("a Graph page link points away from Graph; not followed")
    return build_bearer_get(url=url, access_token=access_token, client_request_id=client_request_id,
                            leg="graph_groups")


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupsPage:
    """One page: the group object ids on it, and the next page's URL (``None``: the last)."""

    group_ids: tuple[str, ...]
    next_link: str | None


def parse_groups_page(resp: HttpResponse, *, now: float) -> GroupsPage:
    """A 200 page of directory objects; only groups are kept (roles and other objects are not)."""
    raise_for_graph_error(resp, what=_WHAT, now=now)
    body = resp.json_object(_WHAT)
    value = body.get("value")
    if not isinstance(value, list):
        raise InvalidResponse(f"{_WHAT}: value is missing or not a list")
    ids: list[str] = []
    for item in value:
        if not isinstance(item, dict):
            raise InvalidResponse(f"{_WHAT}: an entry is not an object")
        kind, object_id = item.get("@odata.type"), item.get("id")
        if kind is not None and kind != _GROUP_TYPE:
            continue  # a directory role or administrative unit: not a group
        if not isinstance(object_id, str) or not _OBJECT_ID.fullmatch(object_id):
            raise InvalidResponse(f"{_WHAT}: an entry's id is missing or malformed")
        ids.append(object_id)
    next_link = body.get("@odata.nextLink")
    if next_link is not None and not isinstance(next_link, str):
        raise InvalidResponse(f"{_WHAT}: @odata.nextLink is not a string")
    return GroupsPage(group_ids=tuple(ids), next_link=next_link or None)
