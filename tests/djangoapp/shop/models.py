from __future__ import annotations

from django.db import models


class Order(models.Model):
    email = models.CharField(max_length=200)
    paid = models.BooleanField(default=False)
    receipt_sent = models.BooleanField(default=False)
