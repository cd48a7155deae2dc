"""The one list page: a filter, a table, and the table alone for htmx requests."""

from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from .htmx import PartialTemplateMixin


class ListPageView(PartialTemplateMixin, SingleTableMixin, FilterView):
    """Subclasses name ``table_class``, ``filterset_class`` (optional), the queryset
    and ``template_name``; the template defines a partial named ``table``.

    No role check of its own: each list view puts ``RoleRequiredMixin`` (accounts)
    first, so the role a page needs is written where the page is.
    """

    # The table's pages only: ListView's own ``paginate_by`` would page (and
    # COUNT) the same rows a second time for a page object no template uses.
    table_pagination = {"per_page": 50}
    filterset_class = None
    partial_name = "table"
    # The role that may open a row's form, for tables whose names lead to it
    # (console.tables.NameLinksToForm); below it the names are plain text.
    edit_role = None

    def get_table_kwargs(self):
        if self.edit_role is None:
            return super().get_table_kwargs()
        return {"editable": self.request.user.has_role(self.edit_role)}

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
