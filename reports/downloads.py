"""A report's file as a download: one answer for the page and the API."""

from django.http import FileResponse, Http404

from .models import Report
from .services import report_downloaded


def report_file_response(report: Report, *, actor) -> FileResponse:
    """The finished report's file as an attachment, audited as ``actor``'s
    download; 404 while it has none, or when the file was removed from the
    media folder behind Enclave's back."""
    if not report.is_downloadable:
        raise Http404("This report has no file yet.")
    try:
        handle = report.file.open("rb")
    except FileNotFoundError:
        raise Http404("The report's file is missing; run the report again.") from None
    report_downloaded(actor=actor, report=report)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=report.download_filename,
        content_type=report.content_type,
    )
