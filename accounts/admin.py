from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import AuditEntry, User


@admin.register(User)
class EnclaveUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Enclave", {"fields": ("role",)}))
    list_display = ("username", "email", "role", "is_active", "is_superuser")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_name", "action", "object_type", "object_repr")
    list_filter = ("action", "object_type")
