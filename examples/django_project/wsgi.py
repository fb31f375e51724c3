"""WSGI entry of the example Django project: ``AADWEB_APP=examples.django_project.wsgi:application``.

``aadweb.wsgi:app`` is then this project behind aadweb's gate. (Without aadweb in front, every
request would be anonymous: nothing else sets REMOTE_USER.)
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_project.settings")

application = get_wsgi_application()
