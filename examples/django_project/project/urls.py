from __future__ import annotations

from django.urls import include, path
from notes import views

urlpatterns = [
    path("notes/", views.add_note),
    path("tasks/", include("aqueue.contrib.django.urls")),
]
