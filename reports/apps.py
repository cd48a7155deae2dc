from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self) -> None:
        from networks.signals import network_access_lost

        network_access_lost.connect(_access_lost, dispatch_uid="reports_access_lost")


def _access_lost(sender, user, network_ids, **kwargs) -> None:
    from .services.schedules import report_schedules_stop_for_lost_networks

    report_schedules_stop_for_lost_networks(user=user, network_ids=network_ids)
