"""Every write to users, and the audit log every other service writes to."""

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from rest_framework.authtoken.models import Token

from .lockout import client_address
from .models import AuditEntry, Role, User
from .selectors import user_sign_in_failures


def audit_record(
    *, actor: User | None, action: str, instance: models.Model, changes: dict | None = None
) -> AuditEntry:
    """Writes one audit entry: who did what to which object, and when."""
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_name=actor.get_username() if actor is not None and actor.pk else "system",
        action=action,
        object_type=instance._meta.verbose_name,
        object_id=str(instance.pk),
        object_repr=str(instance)[:255],
        changes=changes or {},
    )


def _client_address(request) -> str:
    """The client's address as sign-in throttling sees it (REMOTE_ADDR, or the
    X-Forwarded-For entry ENCLAVE_PROXY_COUNT proxies in front set)."""
    if request is None:
        return ""
    return client_address(request)[:64]


def audit_sign_in(sender, request, user, **kwargs) -> None:
    """Django's user_logged_in: every sign-in (page, /admin/, API token) is audited."""
    audit_record(
        actor=user,
        action=AuditEntry.Action.SIGN_IN,
        instance=user,
        changes={"address": _client_address(request)},
    )


def audit_sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    """Django's user_login_failed: the name that was tried, never the password."""
    username = str(credentials.get("username", ""))[:150]
    AuditEntry.objects.create(
        actor=None,
        actor_name=username,
        action=AuditEntry.Action.SIGN_IN_FAILED,
        object_type=User._meta.verbose_name,
        object_id="",
        object_repr=username[:255],
        changes={"address": _client_address(request)},
    )


def _diff(instance: models.Model, data: dict) -> dict:
    return {
        field: [str(getattr(instance, field)), str(value)]
        for field, value in data.items()
        if getattr(instance, field) != value
    }


def _username_taken(user: User) -> ValidationError | None:
    clash = User.objects.filter(username__iexact=user.username).exclude(pk=user.pk).first()
    if clash is None:
        return None
    return ValidationError({"username": f"A user named '{clash.username}' already exists."})


@transaction.atomic
def user_create(
    *,
    actor: User | None,
    username: str,
    password: str,
    role: str = Role.READER,
    email: str = "",
    is_active: bool = True,
    timezone: str = "UTC",
) -> User:
    """Creates a user with a role. The password must pass the configured validators.

    Refuses a username another user has in any case ("Alice" when "alice" exists),
    and a time zone that is not an IANA zone name.
    """
    user = User(username=username, email=email, role=role, is_active=is_active, timezone=timezone)
    errors: dict[str, list[str]] = {}
    try:
        # Uniqueness is _username_taken's: in any case, with the clear message.
        user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        errors.update(error.message_dict)
    if taken := _username_taken(user):
        errors.setdefault("username", []).extend(taken.messages)
    try:
        validate_password(password, user)
    except ValidationError as error:
        errors["password"] = error.messages
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # A concurrent request took the name between the check and the insert.
        if error := _username_taken(user):
            raise error from None
        raise
    audit_record(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        instance=user,
        changes={"role": role, "is_active": is_active},
    )
    return user


@transaction.atomic
def user_update(*, actor: User | None, user: User, password: str | None = None, **fields) -> User:
    """Changes a user's role, activity, e-mail, time zone or password.

    A new password revokes the user's API token and signs out their other sessions.

    Refuses to let a Manager demote or deactivate their own account, so an
    installation cannot lock its last Manager out by accident.
    """
    if actor is not None and actor.pk == user.pk:
        if fields.get("is_active") is False:
            raise ValidationError({"is_active": "You cannot deactivate your own account."})
        if "role" in fields and fields["role"] != Role.MANAGER and not user.is_superuser:
            raise ValidationError({"role": "You cannot take the Manager role from yourself."})
    changes = _diff(user, fields)
    for field, value in fields.items():
        setattr(user, field, value)
    if password:
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise ValidationError({"password": error.messages}) from None
        user.set_password(password)
        changes["password"] = ["***", "changed"]
        # Saving a new password revokes the API token (User.save): say so.
        if Token.objects.filter(user=user).exists():
            changes["api_token"] = ["***", "revoked"]
    user.full_clean(exclude=["password"])
    user.save()
    if changes:
        audit_record(actor=actor, action=AuditEntry.Action.UPDATE, instance=user, changes=changes)
    return user


@transaction.atomic
def user_unlock(*, actor: User | None, user: User) -> int:
    """Clears the user's failed sign-ins, from every address, so a locked-out user
    can sign in again at once. Returns how many records were cleared (audited
    when there were any). An address locked for every username stays locked
    until its cool-off ends (``manage.py axes_reset_ip ADDRESS`` clears it)."""
    before = user_sign_in_failures(user=user)
    cleared = AxesProxyHandler.reset_attempts(username=user.get_username().lower())
    if cleared:
        failures = sum(a["failures"] for a in before["addresses"])
        was = "locked out" if before["locked"] else f"{failures} failed sign-in(s)"
        audit_record(
            actor=actor,
            action=AuditEntry.Action.UPDATE,
            instance=user,
            changes={"sign_in": [was, "unlocked"]},
        )
    return cleared
