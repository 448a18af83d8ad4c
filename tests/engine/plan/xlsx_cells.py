"""An XLSX workbook as plain data, to compare two exports cell by cell: every sheet's title, frozen panes, column
widths, autofilter, data validations, and per cell its value, number format, boldness and wrapping."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook


def workbook_cells(data: bytes) -> list[dict[str, Any]]:
    book = load_workbook(io.BytesIO(data))
    sheets = []
    for sheet in book.worksheets:
        sheets.append(
            {
                "title": sheet.title,
                "freeze": sheet.freeze_panes,
                "widths": {k: d.width for k, d in sorted(sheet.column_dimensions.items())},
                "filter": sheet.auto_filter.ref,
                "validations": [
                    (
                        dv.type,
                        str(dv.sqref),
                        dv.formula1,
                        dv.operator,
                        dv.allow_blank,
                        dv.showErrorMessage,
                        dv.showInputMessage,
                        dv.prompt,
                        dv.promptTitle,
                        dv.error,
                        dv.errorTitle,
                    )
                    for dv in sheet.data_validations.dataValidation
                ],
                "cells": [
                    [(c.value, c.number_format, bool(c.font.bold), bool(c.alignment.wrap_text)) for c in row]
                    for row in sheet.iter_rows()
                ],
                # Not `modified`: openpyxl sets it to the wall clock when it saves (whatever the export asks).
                "properties": (book.properties.created, book.properties.creator),
            }
        )
    return sheets
