"""The layouts of the LanceDB tables and the SQL literals our own code builds for them (never from
user text: user filters go through `lib/query/filter_grammar.py`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vcf_pipeline.lib.search.keywords import KEYWORDS
from vcf_pipeline.lib.stores.id_sets import IdIndex
from vcf_pipeline.lib.vcf.calls import CALL_SCHEMA
from vcf_pipeline.lib.vcf.parsed import VARIANT_SCHEMA

VARIANTS = "variants"
ROW_KEY = "row_key"
CALLS = "calls"
FILE_VARIANTS = "file_variants"


def variants_schema(dimension: int) -> pa.Schema:
    """`variants`: the parsed columns plus the text embedded, its hash, the vector, the model, the
    full-text index's `keywords`, and a digest of the row (`row_key`) that lets an upsert leave
    unchanged rows alone."""
    return (
        VARIANT_SCHEMA.append(pa.field("description", pa.string()))
        .append(pa.field("text_hash", pa.string()))
        .append(pa.field("embedding", pa.list_(pa.float32(), dimension)))
        .append(pa.field("embedding_model", pa.string()))
        .append(pa.field(KEYWORDS, pa.string()))
        .append(pa.field(ROW_KEY, pa.string()))
    )


def with_row_keys(batch: pa.RecordBatch, dimension: int) -> pa.Table:
    """`batch` as the `variants` columns it fills (all but the keywords), with its rows' digests."""
    data = pa.Table.from_batches([batch]).select([n for n in variants_schema(dimension).names if n not in (KEYWORDS, ROW_KEY)])
    return data.append_column(ROW_KEY, row_keys(data))


class StoredRowKeys:
    """The id and row digest of every stored variant (`VariantStore.stored_row_keys`), indexed by
    id once for the many batches a write compares with them."""

    def __init__(self, stored: pa.Table):
        self.ids = IdIndex(stored["variant_id"])
        self.keys = stored[ROW_KEY].combine_chunks()

    def compared(self, data: pa.Table) -> tuple[pa.Array, pa.Array]:
        """For each row of `data` (`with_row_keys`): is its id new, and is it stored as it is (the
        same id and digest; a row stored without a digest never is)."""
        at = self.ids.positions(data["variant_id"])
        is_new = at < 0
        stored_keys = self.keys.take(pa.array(np.where(is_new, 0, at))) if len(self.keys) else pa.nulls(len(at), pa.string())
        unchanged = pc.fill_null(pc.equal(data[ROW_KEY].combine_chunks(), stored_keys), False)
        return pa.array(is_new), pc.and_(unchanged, pa.array(~is_new))


def row_keys(data: pa.Table) -> pa.Array:
    """A digest per row of every column but the id and the vector (the vector follows from
    `text_hash` and `embedding_model`, the keywords from the rest)."""
    parts = []
    for name in data.column_names:
        if name in ("variant_id", "embedding", KEYWORDS, ROW_KEY):
            continue
        column = data[name]
        if pa.types.is_list(column.type):
            column = pc.binary_join(column, "|")
        parts.append(pc.fill_null(column.cast(pa.string()), "\x00"))
    joined = pc.binary_join_element_wise(*parts, "\x1f").to_pylist()
    return pa.array([hashlib.blake2b(j.encode(), digest_size=12).hexdigest() for j in joined], pa.string())


Vectors = Callable[[list[str]], np.ndarray]  # texts -> their vectors (stored ones first)


def with_vectors(data: pa.Table, vectors: Vectors | None) -> pa.Table:
    """`data` with a vector in every row: those without one (null `embedding`) get `vectors` of
    their descriptions."""
    column = data["embedding"].combine_chunks()
    missing = np.asarray(pc.is_null(column).to_numpy(zero_copy_only=False), dtype=bool)
    if not missing.any():
        return data
    if vectors is None:
        raise ValueError(f"{int(missing.sum())} rows have no vector and no way to get one was given")
    dimension = column.type.list_size
    matrix = np.zeros((data.num_rows, dimension), np.float32)
    matrix[~missing] = pc.drop_null(column).flatten().to_numpy().reshape(-1, dimension)
    matrix[missing] = vectors(data["description"].filter(pa.array(missing)).to_pylist())
    filled = pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1), pa.float32()), dimension)
    return data.set_column(data.schema.get_field_index("embedding"), data.schema.field("embedding"), filled)


def with_keywords(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """Rows as `variants` stores them: `data` (every column but the keywords) with its keywords."""
    from vcf_pipeline.lib.search.keywords import keyword_column

    return data.add_column(data.schema.get_field_index(ROW_KEY), KEYWORDS, keyword_column(data)).cast(schema)


CALLS_SCHEMA = pa.schema([pa.field("partition_key", pa.string()), *CALL_SCHEMA])


def present(columns: list[str], schema: pa.Schema) -> list[str]:
    """Those of `columns` the table has: a store written before a column existed gets it on its
    next write, and is read without it until then."""
    return [c for c in columns if c in schema.names]


def in_list(column: str, values: list[str]) -> str:
    """`column IN ('a', 'b')` for our own ids (never user text)."""
    return f"{column} IN ({', '.join(map(sql_string, values))})"


def sql_string(value: str) -> str:
    """A SQL string literal (values here are our own keys and hashes, never user filter text)."""
    return "'" + value.replace("'", "''") + "'"
