from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, JsonResponse

from tests.djangoapp.shop.models import Order
from tests.djangoapp.shop.tasks import send_receipt


def pay(request: HttpRequest, order_id: int) -> JsonResponse:
    with transaction.atomic():
        Order.objects.filter(pk=order_id).update(paid=True)
        result = send_receipt.enqueue(order_id)  # commits with the payment, or not at all
    return JsonResponse({"task": result.id})
