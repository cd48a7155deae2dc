"""The table base for pages that must stay fast at any number of rows."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from .times import EMPTY, when


def id_url(name: str) -> str:
    """The URL of ``name`` (a page of one object, by id) with ``{}`` where the id
    goes: a table reverses it once, then ``.format(pk)`` for each row."""
    return reverse(name, args=[0]).replace("/0/", "/{}/")


# when: a time in a cell, in the user's zone with its name (console.times).
__all__ = ["EMPTY", "FastBodyTable", "NameLinksToForm", "WhenColumn", "when"]


class FastBodyTable(tables.Table):
    """A django-tables2 table whose body is rendered in one Python pass.

    Columns, headers, attributes and the template (includes/table.html) stay
    django-tables2's; only the cells differ. Per cell, django-tables2
    inspects the render method's signature and sends the value through the
    template engine (a DateTimeColumn compiles a template for every cell):
    about half a millisecond a cell on our machines, 200 ms for a page of 50
    hosts. Here a cell is ``cell_<column>(record)`` returning safe HTML, or
    the escaped value of the column's accessor; ``after_row_html(record)`` may
    add markup after a row.
    """

    class Meta:
        template_name = "includes/fast_table.html"

    def row_attrs_html(self, record, index: int) -> str:
        return ' class="odd"' if index % 2 else ' class="even"'

    def after_row_html(self, record) -> str:
        return ""

    def fast_rows(self):
        columns = []
        for bound in self.columns:
            attrs = bound.attrs.get("td")
            columns.append(
                (
                    getattr(self, f"cell_{bound.name}", None),
                    tables.A(bound.accessor),
                    f" {attrs.as_html()}" if attrs else "",
                )
            )
        for index, row in enumerate(self.paginated_rows):
            record = row.record
            cells = []
            for cell, accessor, td_attrs in columns:
                if cell is not None:
                    content = cell(record)
                else:
                    value = accessor.resolve(record, quiet=True)
                    content = EMPTY if value in (None, "") else conditional_escape(value)
                cells.append(f"<td{td_attrs}>{content}</td>")
            row = f"<tr{self.row_attrs_html(record, index)}>{''.join(cells)}</tr>"
            # Every cell is escaped or built with format_html above, and so is what follows.
            yield mark_safe(row + self.after_row_html(record))  # noqa: S308


class NameLinksToForm:
    """For a table whose ``name`` leads to the row's form: with
    ``editable=False`` (a user who may not open the form, see
    ``ListPageView.edit_role``) the name is plain text, not a link that
    answers 403."""

    def __init__(self, *args, editable: bool = True, **kwargs):
        if not editable:
            kwargs["extra_columns"] = [("name", tables.Column())]
        super().__init__(*args, **kwargs)


class WhenColumn(tables.Column):
    """A date and time in the user's time zone, with the zone's name
    ("2026-12-07 15:03 CET"; ``seconds=True`` adds them): console.times.when."""

    def __init__(self, *args, seconds: bool = False, **kwargs):
        kwargs.setdefault("default", EMPTY)
        super().__init__(*args, **kwargs)
        self.seconds = seconds

    def render(self, value):
        return when(value, seconds=self.seconds)
