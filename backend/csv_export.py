"""CSV files that staff and sellers open in Excel: UTF-8 with a BOM (without it Excel shows the
Chinese as mojibake), money written in yuan from integer fen, and text that could start a
formula kept as text — a buyer may name themselves "=HYPERLINK(...)", and that must not run on
a staff PC."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

from flask import Response

BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def yuan(fen: int) -> str:
    """12345 → "123.45", -5 → "-0.05": exact, never through a float."""
    whole, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}{whole}.{cents:02d}"


def cell(value) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def csv_text(rows: Iterable[Iterable]) -> str:
    """The rows (the header first) as one CSV file's text, BOM included."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue()


def csv_download(text: str, filename: str) -> Response:
    """A CSV file's text (csv_text) as a download named `filename`."""
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
