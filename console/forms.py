from django.core.exceptions import ValidationError


def apply_validation_error(form, error: ValidationError) -> None:
    """Shows a service's ValidationError on the form, field by field where it can."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)
