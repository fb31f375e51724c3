"""URLs of the example Django project."""

from __future__ import annotations

from django.urls import path

from examples.django_project import views

urlpatterns = [
    path("", views.home),
    path("api/whoami", views.whoami),
    path("api/token", views.token),
]
