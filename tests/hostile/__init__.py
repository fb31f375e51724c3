"""A hostile identity provider for the security suite.

:class:`~tests.hostile.server.HostileIdP` is a loopback server (Werkzeug ``make_server`` in a
thread) that plays the Azure AD v1 authority *and* Microsoft Graph, and lets a test script
every answer: which key signs, which claims and header tricks an id_token carries, status
codes, redirects, delays, body sizes and encodings, JWKS and metadata contents. It counts every
request it receives (``hits``), keeps every secret it minted (``secrets``) so a test can prove
none of them leaked, and answers the authorize request at once with the callback (form_post
page or query redirect): no sign-in page.

It shares no code with ``aadweb.protocol``: tokens are minted here with ``cryptography`` and
``hmac`` directly (:mod:`tests.hostile.mint`), so a bug cannot hide on both sides.
"""
