"""A slice's result arrives from an appliance: it is recorded, and the
appliance has room for another slice, so the next waiting ones go out."""

from core.results import SliceResult
from networks.models import Network

from .dispatch import slices_fill
from .ingest import IngestOutcome, slice_ingest


def slice_result_record(*, result: SliceResult) -> IngestOutcome:
    """Ingests the result (a repeat changes nothing: ``slice_ingest``), then
    tops the windows of the scan's network up (``slices_fill``), in a
    transaction of its own: the beat does it too if this one is lost."""
    outcome = slice_ingest(result=result)
    network = Network.objects.filter(scans__pk=result.scan_id).first()
    if network is not None:
        slices_fill(network=network)
    return outcome
