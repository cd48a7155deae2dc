"""Background work handed to Celery, and what becomes of it when the broker is away.

A task is sent once the record it works on is committed. If the broker cannot
take it, the request must not end in a 500 after the record was saved, nor
leave that record "queued" for ever: the caller says what the record becomes
instead (``failed``), typically "error" with the reason below, so the user
sees why and can try again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

BROKER_AWAY = (
    "The task queue (broker) could not be reached, so this never started: {error}. "
    "Try again once it is back."
)


def enqueue(
    send: Callable[[], object], *, what: str, failed: Callable[[str], None] | None = None
) -> bool:
    """Calls ``send`` (a task's ``delay`` or ``apply_async``). If the broker
    cannot take the message, logs it, hands ``failed`` a reason a user can read,
    and returns False."""
    try:
        send()
    except OperationalError as error:
        logger.error("Could not queue %s: %s", what, error)
        if failed is not None:
            failed(BROKER_AWAY.format(error=error))
        return False
    return True


def enqueue_on_commit(
    send: Callable[[], object], *, what: str, failed: Callable[[str], None] | None = None
) -> None:
    """``enqueue`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: enqueue(send, what=what, failed=failed))
