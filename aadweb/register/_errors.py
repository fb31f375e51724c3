"""The one exception ``aadweb register`` raises for a person to read, and the explanations of
what a real admin meets."""

from __future__ import annotations

from aadweb.errors import AadWebError, AuthorityError, GraphError

__all__ = ["RegisterError", "explain_graph", "explain_signin"]

_ROLES = "Application Administrator, Cloud Application Administrator or Global Administrator"


class RegisterError(AadWebError):
    """``aadweb register`` stopped; the message says why and what to do (no secret in it)."""

    status = 400


def explain_signin(exc: AuthorityError, client_id: str) -> RegisterError:
    codes = set(exc.error_codes)
    if exc.error == "expired_token":
        text = "The code expired before anyone signed in with it. Run `aadweb register` again and sign in sooner."
    elif exc.error in ("authorization_declined", "access_denied"):
        text = "The sign-in was declined, so nothing was registered."
    elif codes & {65001, 90094} or exc.error == "consent_required":
        text = (f"Consent is required: the public client {client_id} has not been allowed to ask for "
                f"Application.ReadWrite.All in this tenant. Sign in as an admin ({_ROLES}), who may consent "
                "for the organisation, or ask one to grant consent; or register the app in the portal (README).")
    else:
        text = f"The sign-in failed: {exc.error}" + (f" (AADSTS{min(codes)})" if codes else "") + "."
    return RegisterError(text, user_message=text)


def explain_graph(exc: GraphError, step: str, name: str) -> RegisterError:
    request = f" (Graph request-id {exc.request_id})" if exc.request_id else ""
    if exc.http_status == 403 and step == "find":
        text = ("Graph refused to list applications (403 Authorization_RequestDenied): the token lacks "
                "Application.ReadWrite.All; an admin must consent to it for the sign-in client.")
    elif exc.http_status == 403 and step == "create":
        text = ("Graph refused to create the application (403 Authorization_RequestDenied): your account may not "
                "register applications in this tenant. Either the tenant does not allow users to register "
                "applications (Entra ID > User settings > 'Users can register applications' is No) and you hold "
                f"no Application Developer role, or you are not an admin. Sign in as an admin ({_ROLES}), "
                "or ask one to run `aadweb register`.")
    elif exc.http_status == 403:
        text = (f"Graph refused to {step} for {name!r} (403 Authorization_RequestDenied): you are neither an owner "
                f"of that application nor an admin ({_ROLES}). Ask an owner or an admin.")
    elif exc.http_status == 401:
        text = f"Graph did not accept the sign-in's token ({exc.code or 'HTTP 401'}) while trying to {step}."
    else:
        text = f"Graph answered HTTP {exc.http_status} {exc.code} while trying to {step}: {exc.message}"
    text += request
    return RegisterError(text, user_message=text)
