"""Text that becomes a number: ASCII digits only.

``str.isdigit()`` is also true of other scripts' digits and of superscripts:
``"٣".isdigit()`` and ``"¹".isdigit()`` are True, and ``int("¹")`` raises, while
nmap refuses ``８０`` as a port. Every place where text from a request, an
imported file, a feed or a scanned service becomes a number asks this instead.
"""


def ascii_digits(text: str | bytes) -> bool:
    """True when ``text`` is one or more ASCII digits (``0``-``9``); bytes too
    (an FTP reply code)."""
    return text.isascii() and text.isdigit()
