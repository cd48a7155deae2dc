from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html

from .models import Role


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.READER)
    password = forms.CharField(
        widget=forms.PasswordInput, strip=False, help_text=password_validators_help_text_html()
    )


class UserUpdateForm(forms.Form):
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=Role.choices)
    is_active = forms.BooleanField(
        required=False, label="Active", help_text="Inactive users cannot log in or use the API."
    )
    password = forms.CharField(
        widget=forms.PasswordInput,
        strip=False,
        required=False,
        help_text="Leave empty to keep the current password.",
    )
