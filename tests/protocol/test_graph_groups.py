"""aadweb.protocol.graph_groups: the user's groups from Graph on groups overage."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aadweb.errors import GraphError, InvalidResponse
from aadweb.protocol.graph_groups import build_groups_request, groups_url, parse_groups_page
from aadweb.protocol.http import HttpResponse
from aadweb.secret import Secret

ME = "https://graph.microsoft.com/v1.0/me"
TOKEN = Secret("access_token", "eyJ0eXAi.payload.sig")


def _page(body: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(status=status, headers={"content-type": "application/json"}, body=json.dumps(body).encode())


def test_the_first_page_is_the_transitive_memberships_of_me() -> None:
    url = groups_url(ME)
    assert url.startswith(f"{ME}/transitiveMemberOf?") and "%24select=id" in url and "%24top=999" in url
    request = build_groups_request(url=url, graph_url=ME, access_token=TOKEN, client_request_id="crid")
    assert request.method == "GET" and request.leg == "graph_groups"
    assert request.revealed_headers()["Authorization"] == "Bearer eyJ0eXAi.payload.sig"


@pytest.mark.parametrize("elsewhere", ["https://evil.example/v1.0/me/transitiveMemberOf?$skiptoken=x",
                                       "http://graph.microsoft.com/v1.0/me/transitiveMemberOf",
                                       "https://graph.microsoft.com:8443/x"])
def test_a_next_link_off_graphs_origin_is_not_followed(elsewhere: str) -> None:
    """The bearer token goes only to Graph: a page pointing elsewhere is refused."""
    with pytest.raises((InvalidResponse, ValueError)):
        build_groups_request(url=elsewhere, graph_url=ME, access_token=TOKEN, client_request_id="crid")


def test_a_page_keeps_groups_only_and_its_next_link() -> None:
    page = parse_groups_page(_page({"value": [
        {"@odata.type": "#microsoft.graph.group", "id": "4b0b8b3e-3c5f-4e63-9c5d-1f8a0b7f9e21"},
        {"@odata.type": "#microsoft.graph.directoryRole", "id": "62e90394-69f5-4237-9190-012177145e10"},
        {"id": "a1b2c3d4-0000-0000-0000-000000000001"},
    ], "@odata.nextLink": f"{ME}/transitiveMemberOf?$skiptoken=abc"}), now=0.0)
    assert page.group_ids == ("4b0b8b3e-3c5f-4e63-9c5d-1f8a0b7f9e21", "a1b2c3d4-0000-0000-0000-000000000001")
    assert page.next_link == f"{ME}/transitiveMemberOf?$skiptoken=abc"
    assert parse_groups_page(_page({"value": []}), now=0.0).next_link is None


@pytest.mark.parametrize("body", [{}, {"value": "x"}, {"value": ["x"]}, {"value": [{"id": "<script>"}]},
                                  {"value": [], "@odata.nextLink": 7}])
def test_a_malformed_page_is_refused(body: Any) -> None:
    with pytest.raises(InvalidResponse):
        parse_groups_page(_page(body), now=0.0)


def test_a_graph_error_is_a_graph_error() -> None:
    denied = _page({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}, 403)
    with pytest.raises(GraphError) as info:
        parse_groups_page(denied, now=0.0)
    assert info.value.http_status == 403
