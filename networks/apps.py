from django.apps import AppConfig


class NetworksConfig(AppConfig):
    name = "networks"

    def ready(self) -> None:
        from accounts.tables import network_access_reader_set

        from .selectors import network_access_labels

        # The users list (accounts, a floor below) shows what each user sees.
        network_access_reader_set(network_access_labels)
