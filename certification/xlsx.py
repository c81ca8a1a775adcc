"""The one writer of .xlsx files. Every workbook the product writes (case lists, score rankings, the annual
approvals summary, import templates, a bureau's filings) is made by :func:`new_workbook` and turned into bytes by
:func:`workbook_bytes`, which neutralises every cell on the way out: a test fails if another module imports
openpyxl's ``Workbook`` or opens a workbook it could save.

Formula injection (OWASP "CSV injection"): a spreadsheet program runs a cell whose text begins with ``=`` (and,
once the cell is edited, ``+``, ``-``, ``@``, a tab or a carriage return) as a formula, so an institution named
``=HYPERLINK("http://…","…")`` would be a live link in a bureau's export. Such text is written as what it is,
a string: an explicit string cell (never the formula openpyxl makes of a value beginning with ``=``) marked with
Excel's quote prefix, the mark Excel itself stores for a value typed after an apostrophe, so that editing the
cell keeps it text. The text reads back exactly as typed (no apostrophe added to it). Numbers, dates and
Decimals stay numbers, negative ones included: only text is ever neutralised.
"""

from __future__ import annotations

import io

from openpyxl import Workbook

#: What a spreadsheet program may take as the start of a formula (OWASP CSV injection guidance).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
STRING = "s"
FORMULA = "f"


def new_workbook() -> Workbook:
    """An empty workbook (one sheet) to fill; write it out with :func:`workbook_bytes`."""
    return Workbook()


def is_risky(value) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def neutralise(cell) -> None:
    """Make ``cell`` plain text if it holds a formula, or text a spreadsheet program could take as one."""
    if cell.data_type == FORMULA:
        cell.value = str(cell.value)
    elif not is_risky(cell.value):
        return
    cell.data_type = STRING
    cell.quotePrefix = True


def workbook_bytes(book: Workbook) -> bytes:
    """The workbook as .xlsx bytes, every cell of every sheet neutralised first: no cell is a formula."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is not None:
                    neutralise(cell)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
