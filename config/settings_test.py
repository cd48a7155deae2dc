"""Settings of the test suite (pytest-django, see pyproject.toml): production
settings, with what a test run has no use for taken out.

* A fixed secret key, so no test needs ``DJANGO_SECRET_KEY`` from the
  environment. Subprocesses that tests start inherit these settings; a test of
  the production settings themselves (tests/test_production.py) names
  ``config.settings`` and its own environment.
* Static URLs unhashed, served from the source folders: pytest-django runs every
  test with DEBUG off, and the manifest storage of production would need
  ``collectstatic`` first.
"""

import os

from config.settings import *  # noqa: F403
from config.settings import DATABASES, STORAGES

SECRET_KEY = "enclave-tests-only-secret-key-never-used-outside-the-test-suite"

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# scripts/test-suite runs the network-namespace tests in a second pytest
# process beside the rest: on PostgreSQL each names its own test database
# (SQLite's is already one per process).
if os.environ.get("ENCLAVE_TEST_DATABASE") and "sqlite" not in DATABASES["default"]["ENGINE"]:
    DATABASES["default"]["TEST"] = {"NAME": os.environ["ENCLAVE_TEST_DATABASE"]}
