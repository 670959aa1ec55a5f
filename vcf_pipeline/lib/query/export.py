"""Streaming the variants a filter selects into a file (Parquet, Arrow IPC or CSV), batch by batch:
the table is never held in memory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `--help` lists FORMATS without loading Arrow
    import pyarrow as pa

FORMATS = ("parquet", "arrow", "csv", "vcf")  # vcf: lib/query/vcf_export.py


class ExportRefused(ValueError):
    """Columns the format cannot hold."""


def is_flat(field: pa.Field) -> bool:
    """Whether CSV can hold the column (it holds no lists: vectors, conditions)."""
    import pyarrow as pa

    return not (pa.types.is_list(field.type) or pa.types.is_fixed_size_list(field.type))


def default_columns(schema: pa.Schema, fmt: str) -> list[str]:
    return [f.name for f in schema if fmt != "csv" or is_flat(f)]


def export_rows(table, where_sql: str, columns: list[str], fmt: str, out: Path, batch_rows: int = 50_000) -> int:
    """Write the rows of `table` matching `where_sql` to `out`; returns how many."""
    if fmt == "csv" and not all(is_flat(table.schema.field(c)) for c in columns):
        raise ExportRefused("CSV cannot hold list columns (embedding, conditions): export them as parquet or arrow")
    reader = table.search().where(where_sql).select(columns).limit(None).to_batches(batch_rows)
    return _write(reader, reader.schema, fmt, out)


def write_rows(rows: pa.Table, fmt: str, out: Path) -> int:
    """Write rows already selected (genotypes) to `out`; CSV leaves out list columns."""
    if fmt == "csv":
        rows = rows.select([f.name for f in rows.schema if is_flat(f)])
    return _write(rows.to_batches(), rows.schema, fmt, out)


def _write(batches, schema: pa.Schema, fmt: str, out: Path) -> int:
    import pyarrow as pa

    if fmt == "parquet":
        import pyarrow.parquet as pq

        writer = pq.ParquetWriter(out, schema)
    elif fmt == "arrow":
        writer = pa.ipc.new_file(out, schema)
    elif fmt == "csv":
        import pyarrow.csv as pcsv

        writer = pcsv.CSVWriter(out, schema)
    else:
        raise ExportRefused(f"format {fmt!r}: one of {', '.join(FORMATS)}")
    written = 0
    with writer:
        for batch in batches:
            writer.write_batch(batch)
            written += batch.num_rows
    return written
