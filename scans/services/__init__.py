"""Every write to scans, schedules, slices, option profiles, detections and the KB.

Views, the API, tasks and commands call these; none of them holds a rule.
"""

from .failover import slices_reassign
from .ingest import slice_ingest
from .kb import kb_load
from .launch import MAX_SCAN_ADDRESSES, scan_launch
from .lifecycle import scan_cancel, slice_progress_record
from .profiles import option_profile_create, option_profile_default, option_profile_update
from .results import slice_result_record
from .schedules import (
    next_run_after,
    schedule_create,
    schedule_delete,
    schedule_update,
    schedules_run_due,
)

__all__ = [
    "MAX_SCAN_ADDRESSES",
    "kb_load",
    "next_run_after",
    "option_profile_create",
    "option_profile_default",
    "option_profile_update",
    "scan_cancel",
    "scan_launch",
    "schedule_create",
    "schedule_delete",
    "schedule_update",
    "schedules_run_due",
    "slice_ingest",
    "slice_progress_record",
    "slice_result_record",
    "slices_reassign",
]
