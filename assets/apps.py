from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "assets"

    def ready(self):
        from networks.signals import address_space_changed

        address_space_changed.connect(_recount_overlaps, dispatch_uid="assets.recount_overlaps")


def _recount_overlaps(sender, network, **kwargs) -> None:
    """An address space changed: the overlap figures are recounted in the background."""
    from console.queueing import enqueue

    from .tasks import refresh_overlaps

    enqueue(refresh_overlaps.delay, what="overlap recount")
