"""Curation of the variant store: add, update and delete variants, keeping LanceDB and Kuzu in
agreement and the embedding in step with the text it was made from."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from vcf_pipeline.lib.describe import describe_variant, text_hash
from vcf_pipeline.lib.kuzu_store import GraphStore
from vcf_pipeline.lib.lancedb_store import VARIANTS, VariantStore, sql_string, variants_schema
from vcf_pipeline.lib.vcf import VARIANT_SCHEMA, classify_variant, make_variant_id

IDENTITY = ("variant_id", "chrom", "pos", "ref", "alt")
DERIVED = ("variant_type", "description", "text_hash", "embedding", "embedding_model")
EDITABLE = {f.name: f.type for f in VARIANT_SCHEMA if f.name not in IDENTITY + DERIVED}
USER_VECTOR = "user-supplied"


class CurationError(ValueError):
    """A refused edit (unknown column, wrong type, missing or duplicate variant): exit 2."""


# Value ranges a curated value must respect (what a parsed file could hold).
_RANGES = {"allele_frequency": (0.0, 1.0), "qual": (0.0, 1e12)}
_INT64 = (-(2**63), 2**63 - 1)
MAX_TEXT = 10_000


def _check_text(name: str, value: str) -> None:
    if len(value) > MAX_TEXT:
        raise CurationError(f"{name} is {len(value)} characters long (at most {MAX_TEXT})")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise CurationError(f"{name} holds a control character (NUL, newline, ...): {value[:40]!r}")


def check_fields(fields: dict) -> dict:
    """Only editable columns, each with a value of its column's type and range (None clears it)."""
    for name, value in fields.items():
        if name in IDENTITY or name in DERIVED:
            raise CurationError(f"{name} cannot be set: it is {'the identity' if name in IDENTITY else 'derived from the other columns'}")
        if name not in EDITABLE:
            raise CurationError(f"unknown column {name!r} (editable: {', '.join(sorted(EDITABLE))})")
        kind = EDITABLE[name]
        if value is None:
            continue
        ok = (
            isinstance(value, str) if pa.types.is_string(kind)
            else isinstance(value, int) and not isinstance(value, bool) if pa.types.is_integer(kind)
            else isinstance(value, (int, float)) and not isinstance(value, bool) if pa.types.is_floating(kind)
            else isinstance(value, list) and all(isinstance(v, str) for v in value) if pa.types.is_list(kind)
            else False
        )
        if not ok:
            raise CurationError(f"{name} takes {kind}, not {type(value).__name__} {value!r}")
        if pa.types.is_floating(kind):
            low, high = _RANGES.get(name, (-math.inf, math.inf))
            if not math.isfinite(value) or not low <= value <= high:
                raise CurationError(f"{name} must be a finite number from {low:g} to {high:g}, not {value!r}")
        elif pa.types.is_integer(kind) and not _INT64[0] <= value <= _INT64[1]:
            raise CurationError(f"{name} {value} is out of range")
        for text in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
            _check_text(name, text)
    return fields


class Curator:
    """Edits through both stores. `embed` turns texts into vectors (the configured model);
    `model_id` names it in `embedding_model`."""

    def __init__(self, store: VariantStore, graph: GraphStore, embed: Callable[[list[str]], np.ndarray], model_id: str):
        self.store, self.graph, self.embed, self.model_id = store, graph, embed, model_id

    def _dimension(self) -> int | None:
        if VARIANTS not in self.store.table_names():
            return None
        return self.store.db.open_table(VARIANTS).schema.field("embedding").type.list_size

    def _write(self, row: dict, re_embed: bool, vector=None) -> None:
        if vector is not None:
            row["embedding"], row["embedding_model"] = [float(x) for x in vector], USER_VECTOR
        elif re_embed:
            row["embedding"], row["embedding_model"] = self.embed([row["description"]])[0].tolist(), self.model_id
        dimension = self._dimension() or len(row["embedding"])
        if len(row["embedding"]) != dimension:
            raise CurationError(f"the embedding has {len(row['embedding'])} dimensions; the table's have {dimension}")
        schema = variants_schema(dimension)
        self.store.upsert_variants(pa.Table.from_pylist([row], schema=schema).to_batches(), dimension)
        self.graph.upsert_variants([row])

    def get(self, variant_id: str) -> dict | None:
        rows = self.store.read(VARIANTS, where=f"variant_id = {sql_string(variant_id)}").to_pylist()
        return rows[0] if rows else None

    def add(self, chrom: str, pos: int, ref: str, alt: str, fields: dict, vector=None) -> dict:
        variant_id = make_variant_id(chrom, pos, ref, alt)
        if self.get(variant_id) is not None:
            raise CurationError(f"variant {variant_id} exists; change it with update-variant")
        row = {f.name: None for f in VARIANT_SCHEMA}
        row.update(check_fields(fields))
        row.update(variant_id=variant_id, chrom=chrom, pos=pos, ref=ref, alt=alt, variant_type=classify_variant(ref, alt))
        row["description"] = describe_variant(row)
        row["text_hash"] = text_hash(row["description"])
        self._write(row, re_embed=True, vector=vector)
        return row

    def update(self, variant_id: str, changes: dict) -> tuple[dict, bool]:
        """Apply `changes`; re-embed when the variant's text changes. Returns (row, re-embedded)."""
        row = self.get(variant_id)
        if row is None:
            raise CurationError(f"no variant {variant_id}")
        row.update(check_fields(changes))
        description = describe_variant(row)
        re_embed = description != row["description"]
        row["description"], row["text_hash"] = description, text_hash(description)
        self._write(row, re_embed=re_embed)
        return row, re_embed

    def matching(self, where_sql: str) -> list[str]:
        return self.store.read(VARIANTS, columns=["variant_id"], where=where_sql).column("variant_id").to_pylist() if VARIANTS in self.store.table_names() else []

    def delete(self, variant_ids: list[str]) -> int:
        """Delete from LanceDB (variants, calls, ownership) and Kuzu (node and edges)."""
        deleted = self.store.delete_variants(variant_ids)
        self.graph.delete_variants(variant_ids)
        return deleted
