"""Views of the example Django project: who is signed in, and an access token from aadweb."""

from __future__ import annotations

import base64
import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html


def home(request: HttpRequest) -> HttpResponse:
    """``request.user`` is the user RemoteUserBackend made from aadweb's REMOTE_USER."""
    user = request.META.get("aadweb.user")  # the aadweb.User: name, roles, groups, ...
    return HttpResponse(format_html(
        "<!doctype html><html><head><meta charset='utf-8'><title>Django behind aadweb</title></head><body>"
        "<h1>Django behind aadweb</h1><p>username: <span id='username'>{}</span></p>"
        "<p>authenticated: <span id='authenticated'>{}</span></p><p>name: <span id='name'>{}</span></p>"
        "<p><a href='/.auth/logout'>Sign out</a></p></body></html>",
        request.user.get_username(), request.user.is_authenticated, getattr(user, "name", None) or "",
    ))


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"username": request.user.get_username(),
                         "is_authenticated": request.user.is_authenticated,
                         "remote_user": request.META.get("REMOTE_USER")})


def token(request: HttpRequest) -> JsonResponse:
    """An access token for the sign-in's resource, from aadweb. Only its audience is shown:
    decoded WITHOUT verifying the signature, for display only (Graph verifies it)."""
    access_token = request.META["aadweb.access_token"]()
    payload = access_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return JsonResponse({"aud": claims.get("aud"), "length": len(access_token)})
