from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from notes.tasks import notify, word_count


@csrf_exempt
@require_POST
def add_note(request: HttpRequest) -> JsonResponse:
    text = request.POST.get("text", "")
    with transaction.atomic():
        # ... save the note with the ORM here; the jobs commit with it.
        counted = word_count.enqueue(text)
        told = notify.enqueue("team@example.com", text[:80])
    return JsonResponse({"word_count": counted.id, "notify": told.id}, status=202)
