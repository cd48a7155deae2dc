from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.generic import FormView

from accounts.permissions import RoleRequiredMixin
from console.forms import ServiceFormMixin
from console.listing import ListPageView

from . import services
from .filters import AuditEntryFilterSet
from .forms import ProfileForm, UserCreateForm, UserUpdateForm
from .models import AuditEntry, Role, User
from .selectors import user_sign_in_failures
from .tables import AuditEntryTable, UserTable


class UserListView(RoleRequiredMixin, ListPageView):
    required_role = Role.MANAGER
    table_class = UserTable
    template_name = "accounts/user_list.html"

    def get_queryset(self):
        return User.objects.order_by("username")


class UserCreateView(RoleRequiredMixin, ServiceFormMixin, FormView):
    required_role = write_role = Role.MANAGER
    form_class = UserCreateForm
    template_name = "accounts/user_form.html"
    success_message = "User {obj.username} created."
    success_url_name = "accounts:user_list"

    def save(self, data):
        return services.user_create(
            actor=self.request.user, **{**data, "timezone": data["timezone"] or "UTC"}
        )


class UserUpdateView(RoleRequiredMixin, ServiceFormMixin, FormView):
    required_role = write_role = Role.MANAGER
    form_class = UserUpdateForm
    template_name = "accounts/user_form.html"
    success_message = "User {obj.username} saved."
    success_url_name = "accounts:user_list"

    def dispatch(self, request, *args, **kwargs):
        self.object = get_object_or_404(User, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        return {
            "email": self.object.email,
            "role": self.object.effective_role,
            "timezone": self.object.timezone,
            "is_active": self.object.is_active,
        }

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            object=self.object, sign_in=user_sign_in_failures(user=self.object), **kwargs
        )

    def post(self, request, *args, **kwargs):
        if "unlock" in request.POST:
            # The page's second form: clear the user's failed sign-ins.
            if services.user_unlock(actor=request.user, user=self.object):
                messages.success(request, f"{self.object.username} can sign in again.")
            return redirect("accounts:user_update", pk=self.object.pk)
        return super().post(request, *args, **kwargs)

    def save(self, data):
        data = dict(data)
        password = data.pop("password") or None
        if not data["timezone"]:
            del data["timezone"]
        services.user_update(actor=self.request.user, user=self.object, password=password, **data)
        if password and self.object.pk == self.request.user.pk:
            # A Manager who changes their own password stays signed in here.
            update_session_auth_hash(self.request, self.object)
        return self.object


class ProfileView(RoleRequiredMixin, ServiceFormMixin, FormView):
    """Every user's own settings: the time zone their pages show times in."""

    required_role = write_role = Role.READER
    form_class = ProfileForm
    template_name = "accounts/profile.html"
    success_message = "Saved: times are shown in {obj.timezone}."
    success_url_name = "accounts:profile"

    def get_initial(self):
        return {"timezone": self.request.user.timezone}

    def get_context_data(self, **kwargs):
        return super().get_context_data(now=timezone.now(), **kwargs)

    def save(self, data):
        # A copy: a refused value must not stay on the request's user.
        user = User.objects.get(pk=self.request.user.pk)
        services.user_update(actor=self.request.user, user=user, **data)
        return user


class AuditListView(RoleRequiredMixin, ListPageView):
    required_role = Role.MANAGER
    table_class = AuditEntryTable
    filterset_class = AuditEntryFilterSet
    template_name = "accounts/audit_list.html"
    table_pagination = {"per_page": 100}

    def get_queryset(self):
        return AuditEntry.objects.all()
