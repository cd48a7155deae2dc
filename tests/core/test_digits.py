"""core.digits: only ASCII digits become numbers."""

import pytest

from core.digits import ascii_digits


@pytest.mark.parametrize("text", ["0", "80", "65535", b"220"])
def test_ascii_digits_are_numbers(text):
    assert ascii_digits(text)


@pytest.mark.parametrize("text", ["", "８０", "¹", "٣", "1.0", "-1", " 80", "80a", b"2x0"])
def test_anything_else_is_not(text):
    assert not ascii_digits(text)
