from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from tests.djangoapp.shop import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("orders/<int:order_id>/pay/", views.pay),
    path("tasks/", include("aqueue.contrib.django.urls")),
]
