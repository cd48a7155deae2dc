"""Every write to users, and the audit log every other service writes to."""

from django.contrib.auth.password_validation import validate_password
from django.db import models, transaction

from .models import AuditEntry, Role, User


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


def _diff(instance: models.Model, data: dict) -> dict:
    return {
        field: [str(getattr(instance, field)), str(value)]
        for field, value in data.items()
        if getattr(instance, field) != value
    }


@transaction.atomic
def user_create(
    *,
    actor: User | None,
    username: str,
    password: str,
    role: str = Role.READER,
    email: str = "",
    is_active: bool = True,
) -> User:
    """Creates a user with a role. The password must pass the configured validators."""
    user = User(username=username, email=email, role=role, is_active=is_active)
    validate_password(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    audit_record(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        instance=user,
        changes={"role": role, "is_active": is_active},
    )
    return user


@transaction.atomic
def user_update(*, actor: User | None, user: User, password: str | None = None, **fields) -> User:
    """Changes a user's role, activity, e-mail or password.

    Refuses to let a Manager demote or deactivate their own account, so an
    installation cannot lock its last Manager out by accident.
    """
    from django.core.exceptions import ValidationError

    if actor is not None and actor.pk == user.pk:
        if fields.get("is_active") is False:
            raise ValidationError({"is_active": "You cannot deactivate your own account."})
        if "role" in fields and fields["role"] != Role.MANAGER and not user.is_superuser:
            raise ValidationError({"role": "You cannot take the Manager role from yourself."})
    changes = _diff(user, fields)
    for field, value in fields.items():
        setattr(user, field, value)
    if password:
        validate_password(password, user)
        user.set_password(password)
        changes["password"] = ["***", "changed"]
    user.full_clean(exclude=["password"])
    user.save()
    if changes:
        audit_record(actor=actor, action=AuditEntry.Action.UPDATE, instance=user, changes=changes)
    return user
