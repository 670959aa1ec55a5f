"""Loading Arrow data into Kuzu the fast way: written to Parquet in a staging folder beside the
database, then `COPY FROM` (never row-by-row CREATE; and COPY from pandas with many nulls in a
STRING column corrupts memory in kuzu 0.11)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import kuzu
import pyarrow as pa
import pyarrow.parquet as pq

STAGING_PREFIX = "staging-"


@contextmanager
def staged_copies(folder: Path, conn: kuzu.Connection) -> Iterator["ParquetCopy"]:
    """A fresh staging folder in `folder` for one write, removed after it; staging folders left by a
    killed writer are removed first (call it holding the database's read-write lock)."""
    for stale in folder.glob(STAGING_PREFIX + "*"):
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=STAGING_PREFIX, dir=folder) as tmp:
        yield ParquetCopy(Path(tmp), conn)


class ParquetCopy:
    """Writes Arrow data to Parquet files and COPYs them into Kuzu tables."""

    def __init__(self, folder: Path, conn: kuzu.Connection):
        self.folder, self.conn, self.n = folder, conn, 0

    def copy_table(self, table: str, data: pa.Table, partial: bool = False) -> int:
        """COPY `data` into `table`; `partial`: `data` holds some of its columns (the rest null)."""
        if data.num_rows == 0:
            return 0
        self.n += 1
        path = self.folder / f"{self.n:06d}-{table}.parquet"
        pq.write_table(data, path)
        target = f"{table}({', '.join(data.column_names)})" if partial else table
        self.conn.execute(f"COPY {target} FROM '{path.as_posix()}'")
        return data.num_rows

    def copy_rows(self, table: str, columns: dict) -> int:
        return self.copy_table(table, as_table(columns))

    def copy_new_nodes(self, table: str, key: str, values: list[str]) -> int:
        """COPY the nodes among `values` that the table does not hold yet."""
        if not values:
            return 0
        found = self.conn.execute(
            f"UNWIND $v AS k MATCH (n:{table} {{{key}: k}}) RETURN n.{key}", {"v": values}
        ).get_as_arrow().column(0).to_pylist()
        new = sorted(set(values) - set(found))
        return self.copy_table(table, pa.table({key: pa.array(new, pa.string())}), partial=True)


def as_table(columns: dict) -> pa.Table:
    """Columns given as Arrow arrays or lists of strings, as a table."""
    return pa.table({k: v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v, pa.string()) for k, v in columns.items()})
