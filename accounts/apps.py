from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from . import services

        user_logged_in.connect(services.audit_sign_in, dispatch_uid="accounts.audit_sign_in")
        user_login_failed.connect(
            services.audit_sign_in_failed, dispatch_uid="accounts.audit_sign_in_failed"
        )
