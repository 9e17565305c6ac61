"""``path("tasks/", include("aqueue.contrib.django.urls"))``: the trigger endpoints."""

from __future__ import annotations

from django.urls import path

from aqueue.contrib.django import views

app_name = "aqueue"
urlpatterns = [
    path("run/", views.run, name="run"),
    path("run-one/", views.run_one, name="run-one"),
    path("status/", views.status, name="status"),
]
