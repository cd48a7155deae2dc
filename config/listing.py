"""The one list page: a filter, a table, and the table alone for htmx requests."""

from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from accounts.permissions import RoleRequiredMixin


class ListPageView(RoleRequiredMixin, SingleTableMixin, FilterView):
    """Subclasses name ``table_class``, ``filterset_class`` (optional), the queryset
    and ``template_name``; the template defines a partial named ``table``."""

    paginate_by = 50
    filterset_class = None

    def get_template_names(self):
        names = super().get_template_names()
        if getattr(self.request, "htmx", False) and not self.request.htmx.boosted:
            return [f"{names[0]}#table"]
        return names

    def get_filterset_class(self):
        return self.filterset_class

    def get_filterset(self, filterset_class):
        if filterset_class is None:
            return None
        return super().get_filterset(filterset_class)

    def get(self, request, *args, **kwargs):
        if self.filterset_class is None:
            self.filterset = None
            self.object_list = self.get_queryset()
            return self.render_to_response(self.get_context_data())
        return super().get(request, *args, **kwargs)
