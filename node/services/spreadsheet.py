"""CSV that spreadsheets open safely: cells they would run as formulas are neutralised."""

from __future__ import annotations

import csv
import io

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a tab or a return before = is one too (OWASP)


def neutralised_cell(cell: str) -> str:
    """A cell that starts like a formula (and is not a number) prefixed with a quote."""
    return "'" + cell if cell[:1] in FORMULA_STARTS and not is_number(cell) else cell


def neutralised(text: str) -> str:
    """Spreadsheets run cells that start with = + - @ (or a tab or a return) as formulas: such a
    cell (a member's name, an answer, is anyone's choice) is prefixed with a quote."""
    lines = [[neutralised_cell(cell) for cell in row] for row in csv.reader(io.StringIO(text, newline=""))]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(lines)
    return out.getvalue()


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
