from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower

from console.times import timezone_names


class Role(models.TextChoices):
    MANAGER = "manager", "Manager"
    SCANNER = "scanner", "Scanner"
    READER = "reader", "Reader"


# What each role may do, from least to most.
ROLE_RANK = {Role.READER: 0, Role.SCANNER: 1, Role.MANAGER: 2}


class EnclaveUserManager(UserManager):
    def get_by_natural_key(self, username):
        """Sign-in (pages, admin, API token) finds a user whatever the case typed:
        usernames are unique regardless of case, so "Alice" can only mean "alice"."""
        return self.get(**{f"{self.model.USERNAME_FIELD}__iexact": username})


def validate_timezone(value: str) -> None:
    """An IANA time zone name this machine knows ("Europe/Paris", "UTC")."""
    if value not in timezone_names():
        raise ValidationError(
            "'%(value)s' is not a time zone: use an IANA name such as UTC, "
            "Europe/Paris or America/New_York.",
            code="invalid_timezone",
            params={"value": value},
        )


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.READER)
    # Every time on the console's pages is shown in this zone, with its name.
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
        help_text="Times on every page are shown in this zone.",
    )

    objects = EnclaveUserManager()

    class Meta(AbstractUser.Meta):
        constraints = [
            # "alice" and "Alice" would be two accounts a person cannot tell apart.
            models.UniqueConstraint(
                Lower("username"),
                name="user_username_unique_ci",
                violation_error_message="A user with that username already exists "
                "(usernames are unique regardless of case).",
            ),
        ]

    def save(self, *args, **kwargs):
        # set_password() keeps the new raw password in _password until the next
        # save (which tells the password validators it changed); a hash upgraded
        # at login clears it first, so only a real change is seen here.
        password_changed = self._password is not None and not self._state.adding
        super().save(*args, **kwargs)
        if password_changed:
            self.revoke_api_token()

    def revoke_api_token(self) -> bool:
        """Deletes the user's API token: whoever held it must sign in again (the
        token endpoint then issues a new one). True if there was one."""
        from rest_framework.authtoken.models import Token

        deleted, _ = Token.objects.filter(user=self).delete()
        return bool(deleted)

    @property
    def effective_role(self) -> str:
        return Role.MANAGER if self.is_superuser else self.role

    def has_role(self, minimum: str) -> bool:
        """True when the user is active and ranks at least ``minimum``."""
        if not self.is_active:
            return False
        return ROLE_RANK[Role(self.effective_role)] >= ROLE_RANK[Role(minimum)]

    @property
    def is_manager(self) -> bool:
        return self.has_role(Role.MANAGER)

    @property
    def can_scan(self) -> bool:
        return self.has_role(Role.SCANNER)


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        DELETE = "delete", "Delete"
        SIGN_IN = "sign_in", "Sign-in"
        SIGN_IN_FAILED = "sign_in_failed", "Failed sign-in"
        DOWNLOAD = "download", "Download"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept as text too, so the entry survives the actor's deletion.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=255)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.object_type} {self.object_repr}"
