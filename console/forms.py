from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect


def apply_validation_error(form, error: ValidationError) -> None:
    """Shows a service's ValidationError on the form, field by field where it can."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


class ServiceFormMixin:
    """A FormView whose valid form goes to a service.

    ``save(data)`` calls the service with the cleaned data and returns what it
    wrote. A ValidationError the service raises is shown on the form (field by
    field where it can) and the form is shown again; otherwise
    ``success_message``, formatted with the object as ``obj``, is flashed and
    the browser goes to ``success_url_name`` or, without one, to the object's
    own page."""

    success_message = "Saved."
    success_url_name: str | None = None

    def save(self, data: dict):
        raise NotImplementedError

    def form_valid(self, form):
        try:
            obj = self.save(form.cleaned_data)
        except ValidationError as error:
            apply_validation_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, self.success_message.format(obj=obj))
        return redirect(self.success_target(obj))

    def success_target(self, obj):
        """Where the browser goes after a save: a URL name, or a model's page."""
        return self.success_url_name or obj
