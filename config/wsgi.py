"""The web server's entry point: ``gunicorn config.wsgi`` in production, and what
``manage.py runserver`` loads too.

With DEBUG off (the default) it refuses to start without ``DJANGO_SECRET_KEY``:
sessions and CSRF tokens would otherwise be signed with a key anyone can read.
"""

import os

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from django.conf import settings  # noqa: E402

try:
    settings.SECRET_KEY  # noqa: B018
except ImproperlyConfigured:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set. With DEBUG off the web server needs a secret key "
        "of its own, e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))' "
        "(README, Production); DJANGO_DEBUG=1 runs with a development key instead."
    ) from None
