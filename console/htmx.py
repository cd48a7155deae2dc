"""One answer to "should this request get a fragment instead of the page?"."""

from django.http import HttpRequest


def htmx_partial(request: HttpRequest) -> bool:
    """True for an htmx request that swaps part of a page.

    A boosted request (``hx-boost`` links and forms) stands for a normal page
    load and gets the whole page, as it would without JavaScript.
    """
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted


class PartialTemplateMixin:
    """Template views: htmx partial requests get the ``{% partialdef %}`` named
    ``partial_name`` of the view's template; every other request the page."""

    partial_name = ""

    def get_template_names(self):
        names = super().get_template_names()
        if self.partial_name and htmx_partial(self.request):
            return [f"{names[0]}#{self.partial_name}"]
        return names
