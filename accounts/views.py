from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.generic import FormView

from accounts.permissions import RoleRequiredMixin
from console.forms import apply_validation_error
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


class UserCreateView(RoleRequiredMixin, FormView):
    required_role = write_role = Role.MANAGER
    form_class = UserCreateForm
    template_name = "accounts/user_form.html"

    def form_valid(self, form):
        try:
            data = dict(form.cleaned_data)
            data["timezone"] = data["timezone"] or "UTC"
            user = services.user_create(actor=self.request.user, **data)
        except ValidationError as error:
            apply_validation_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, f"User {user.username} created.")
        return redirect("accounts:user_list")


class UserUpdateView(RoleRequiredMixin, FormView):
    required_role = write_role = Role.MANAGER
    form_class = UserUpdateForm
    template_name = "accounts/user_form.html"

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

    def form_valid(self, form):
        data = dict(form.cleaned_data)
        password = data.pop("password") or None
        if not data["timezone"]:
            del data["timezone"]
        try:
            services.user_update(
                actor=self.request.user, user=self.object, password=password, **data
            )
        except ValidationError as error:
            apply_validation_error(form, error)
            return self.form_invalid(form)
        if password and self.object.pk == self.request.user.pk:
            # A Manager who changes their own password stays signed in here.
            update_session_auth_hash(self.request, self.object)
        messages.success(self.request, f"User {self.object.username} saved.")
        return redirect("accounts:user_list")


class ProfileView(RoleRequiredMixin, FormView):
    """Every user's own settings: the time zone their pages show times in."""

    required_role = write_role = Role.READER
    form_class = ProfileForm
    template_name = "accounts/profile.html"

    def get_initial(self):
        return {"timezone": self.request.user.timezone}

    def get_context_data(self, **kwargs):
        return super().get_context_data(now=timezone.now(), **kwargs)

    def form_valid(self, form):
        # A copy: a refused value must not stay on the request's user.
        user = User.objects.get(pk=self.request.user.pk)
        try:
            services.user_update(actor=self.request.user, user=user, **form.cleaned_data)
        except ValidationError as error:
            apply_validation_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, f"Saved: times are shown in {user.timezone}.")
        return redirect("accounts:profile")


class AuditListView(RoleRequiredMixin, ListPageView):
    required_role = Role.MANAGER
    table_class = AuditEntryTable
    filterset_class = AuditEntryFilterSet
    template_name = "accounts/audit_list.html"
    table_pagination = {"per_page": 100}

    def get_queryset(self):
        return AuditEntry.objects.all()
