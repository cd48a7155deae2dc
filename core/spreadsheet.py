"""Cells a spreadsheet will not run: every CSV Enclave writes passes its text
through here (the PDF/HTML are escaped elsewhere; CSV has no escaping of its own).

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is a formula to Excel, LibreOffice and Google Sheets, whatever the quoting:
``=HYPERLINK(...)`` or ``=cmd|' /C calc'!A0`` from a scanned host's banner would
run on the reader's machine. The usual defence (OWASP): a ``'`` in front, which
spreadsheets show as text and never evaluate.
"""

# First characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """``value`` with a ``'`` in front if a spreadsheet would run it as a formula."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value
