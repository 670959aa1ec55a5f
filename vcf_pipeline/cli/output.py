"""How commands print: a readable table, or JSON with `--json`."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `--help` must not load Arrow
    import pyarrow as pa


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def emit(args, payload: dict, rows: list[dict] | None = None, columns: list[str] | None = None) -> None:
    """`payload` as JSON with `--json`; else `rows` as a table, or the payload as `key: value` lines."""
    if getattr(args, "json", False):
        print(json.dumps(payload, default=_plain, indent=1))
        return
    if rows is None:
        for key, value in payload.items():
            print(f"{key}: {value}")
        return
    columns = columns or (list(rows[0]) if rows else [])
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def table_rows(table: pa.Table, drop=("embedding",)) -> list[dict]:
    return table.drop_columns([c for c in drop if c in table.column_names]).to_pylist()
