from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html

from console.times import timezone_choices

from .models import Role


def timezone_field(required: bool = True) -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Time zone",
        required=required,
        choices=timezone_choices,
        initial="UTC",
        help_text="Times on every page are shown in this zone, with its name.",
        error_messages={
            "invalid_choice": "'%(value)s' is not a time zone: pick one of the list "
            "(IANA names such as UTC, Europe/Paris or America/New_York)."
        },
    )


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.READER)
    # Left out (a script posting the old form): UTC.
    timezone = timezone_field(required=False)
    password = forms.CharField(
        widget=forms.PasswordInput, strip=False, help_text=password_validators_help_text_html()
    )


class UserUpdateForm(forms.Form):
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=Role.choices)
    # Left out: unchanged.
    timezone = timezone_field(required=False)
    is_active = forms.BooleanField(
        required=False, label="Active", help_text="Inactive users cannot log in or use the API."
    )
    password = forms.CharField(
        widget=forms.PasswordInput,
        strip=False,
        required=False,
        help_text="Leave empty to keep the current password.",
    )


class ProfileForm(forms.Form):
    """What every user sets for themselves."""

    timezone = timezone_field()
