"""Where the CSV import and export live now, for the modules that still import them from here:
the files in ``portfolio.adapters.csv`` (``table``: limits and reading; ``formula``: the
spreadsheet-formula rule; ``writer``: ``to_csv``; ``candidates``, ``scores``, ``spend``: each
file's columns, template and parser) and the imports that save them in
``portfolio.services.imports``. Nothing is defined here: import from those modules instead.
"""

from __future__ import annotations

from portfolio.adapters.csv.candidates import candidates_to_csv
from portfolio.adapters.csv.formula import is_plain_number, neutralise
from portfolio.adapters.csv.scores import scores_template
from portfolio.adapters.csv.table import MAX_BYTES, MAX_ROWS
from portfolio.adapters.csv.writer import to_csv

__all__ = [
    "MAX_BYTES",
    "MAX_ROWS",
    "candidates_to_csv",
    "is_plain_number",
    "neutralise",
    "scores_template",
    "to_csv",
]
