from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _load_kb(sender, using="default", **kwargs) -> None:
    """The KB ships with the code: every migrate (and test database) gets it."""
    from .services import kb_load

    kb_load()


class ScansConfig(AppConfig):
    name = "scans"

    def ready(self) -> None:
        post_migrate.connect(_load_kb, sender=self, dispatch_uid="scans_load_kb")
