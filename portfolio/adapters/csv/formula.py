"""The spreadsheet-formula rule, in one place for import and export.

A cell a spreadsheet would run as a formula starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return (before or after leading spaces) and is not a plain number (``-3.5`` and
``+1e3`` are numbers, not formulas). Such a cell is refused when a file is imported
(``table.read_table``) and neutralised with a leading ``'`` when a file is exported
(``writer.to_csv``).
"""

from __future__ import annotations

import re

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
NUMBER_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def is_plain_number(value: str) -> bool:
    """``value`` is written as a plain decimal number (sign, digits, point, exponent; nothing
    else: no units, thousands separators or %)."""
    return bool(NUMBER_RE.match(value))


def looks_like_formula(value: str) -> bool:
    """Would a spreadsheet treat ``value`` as a formula (or could it, once trimmed)?"""
    for text in (value, value.lstrip(" ")):
        if text.startswith(FORMULA_PREFIXES) and not is_plain_number(text.strip()):
            return True
    return False


def neutralise(value: str) -> str:
    """``value`` made safe for a spreadsheet: a leading ' when it could run as a formula."""
    return "'" + value if looks_like_formula(value) else value
