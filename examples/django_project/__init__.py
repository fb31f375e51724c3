"""A minimal Django project behind aadweb: Django's own ``RemoteUserMiddleware`` trusts the
``REMOTE_USER`` that the gate sets, and ``RemoteUserBackend`` creates the user row on first
sign-in. Django writes no OAuth and keeps no password.

Run it (from the repository root)::

    export DJANGO_SETTINGS_MODULE=examples.django_project.settings
    export DJANGO_SECRET_KEY=...  DJANGO_DB_PATH=/var/lib/myapp/db.sqlite3
    python -m django migrate --noinput
    AADWEB_APP=examples.django_project.wsgi:application gunicorn -w 2 aadweb.wsgi:app

with the usual ``AADWEB_*`` settings, ``AADWEB_REDIRECT_URI=http://<host>/.auth/callback``.

Only ever run it behind aadweb: ``RemoteUserMiddleware`` believes whatever ``REMOTE_USER``
the server sets, and aadweb is what makes that value true (a client cannot set it: aadweb
removes any identity a request brings of its own).
"""
