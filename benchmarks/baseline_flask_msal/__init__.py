"""The baseline for ``bench_signin``: the same sample built the way Microsoft recommends today.

Flask + Microsoft's ``identity`` package (``identity.flask.Auth``, on MSAL Python), server-side
sessions with Flask-Session (``SESSION_TYPE = "filesystem"``), as in Azure-Samples'
"ms-identity-python-webapp". See :mod:`benchmarks.baseline_flask_msal.app`.
"""
