"""Pointing this process's Celery app at a test's private broker, and back.

Celery reads the broker settings through the Django namespace
(``CELERY_BROKER_URL`` ...) and resolves the read and write URLs once, so all
of them are set; the connection and producer pools made for the old broker
are dropped.
"""

from contextlib import contextmanager

KEYS = (
    "broker_url",
    "broker_read_url",
    "broker_write_url",
    "broker_transport_options",
    "CELERY_BROKER_URL",
    "CELERY_BROKER_TRANSPORT_OPTIONS",
)


def _reset_pools(app) -> None:
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None


@contextmanager
def celery_broker(url: str, options: dict | None = None):
    """While inside, tasks this process sends go to ``url``."""
    from config.celery import app

    options = dict(options or {})
    saved = {key: app.conf.get(key) for key in KEYS}
    app.conf.update(
        broker_url=url,
        broker_read_url=url,
        broker_write_url=url,
        broker_transport_options=options,
        CELERY_BROKER_URL=url,
        CELERY_BROKER_TRANSPORT_OPTIONS=options,
    )
    _reset_pools(app)
    try:
        yield app
    finally:
        app.conf.update(saved)
        _reset_pools(app)
