"""console.forms.ServiceFormMixin: what every form view that hands its data to a
service does with the service's answer."""

from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.views.generic import FormView

from console.forms import ServiceFormMixin


class NameForm(forms.Form):
    name = forms.CharField()


class Thing:
    def __init__(self, name):
        self.name = name

    def get_absolute_url(self):
        return f"/things/{self.name}/"


class ThingView(ServiceFormMixin, FormView):
    form_class = NameForm
    template_name = "x.html"  # never rendered: form_invalid is caught below
    success_message = "Thing {obj.name} saved."

    def save(self, data):
        if data["name"] == "taken":
            raise ValidationError({"name": "That name is taken."})
        if data["name"] == "nowhere":
            raise ValidationError("The service said no.")
        return Thing(data["name"])

    def form_invalid(self, form):
        self.invalid = form
        return "invalid"


def post(view_class, name):
    request = RequestFactory().post("/", {"name": name})
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    view = view_class()
    view.setup(request)
    return view, request, view.post(request)


def test_a_saved_object_is_announced_and_shown():
    _view, request, response = post(ThingView, "fish")
    assert response.status_code == 302 and response.url == "/things/fish/"
    assert [str(m) for m in get_messages(request)] == ["Thing fish saved."]


def test_a_named_page_instead_of_the_objects():
    class ListAfter(ThingView):
        success_url_name = "insights:dashboard"

    _view, _request, response = post(ListAfter, "fish")
    assert response.url == "/dashboard/"


def test_the_services_refusal_lands_on_its_field_or_the_form_and_nothing_is_announced():
    view, request, response = post(ThingView, "taken")
    assert response == "invalid"
    assert view.invalid.errors == {"name": ["That name is taken."]}
    assert list(get_messages(request)) == []
    view, _request, _response = post(ThingView, "nowhere")
    assert view.invalid.non_field_errors() == ["The service said no."]
