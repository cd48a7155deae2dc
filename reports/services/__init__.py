"""Every write to report templates, reports and report schedules, and the rules
they keep. Views, the API, tasks and commands call these."""

from .delivery import report_deliver
from .generation import (
    report_create,
    report_delete,
    report_downloaded,
    report_generate,
    report_set_progress,
)
from .schedules import (
    report_schedule_create,
    report_schedule_delete,
    report_schedule_update,
    report_schedules_run_due,
)
from .templates import (
    report_template_create,
    report_template_delete,
    report_template_update,
)

__all__ = [
    "report_create",
    "report_delete",
    "report_deliver",
    "report_downloaded",
    "report_generate",
    "report_schedule_create",
    "report_schedule_delete",
    "report_schedule_update",
    "report_schedules_run_due",
    "report_set_progress",
    "report_template_create",
    "report_template_delete",
    "report_template_update",
]
