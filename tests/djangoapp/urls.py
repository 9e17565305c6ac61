from __future__ import annotations

from django.urls import include, path

from tests.djangoapp.shop import views

urlpatterns = [
    path("orders/<int:order_id>/pay/", views.pay),
    path("tasks/", include("aqueue.contrib.django.urls")),
]
