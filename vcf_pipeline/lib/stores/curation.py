"""Curation of the variant store: add, update and delete variants, keeping LanceDB and Kuzu in
agreement and the embedding in step with the text it was made from."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from vcf_pipeline.lib.embedding.text import describe_variant, text_hash
from vcf_pipeline.lib.stores.curation_log import (
    ADDED,
    DELETED,
    EDITED,
    Curation,
    CurationLog,
    new_curation,
)
from vcf_pipeline.lib.stores.graph_store import GraphStore
from vcf_pipeline.lib.stores.variant_lookup import VariantIdError, resolve_variant_id
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import (
    CALLS,
    FILE_VARIANTS,
    VARIANTS,
    in_list,
    sql_string,
    variants_schema,
)
from vcf_pipeline.lib.vcf.cohort_counts import COHORT
from vcf_pipeline.lib.vcf.contigs import canonical_contig
from vcf_pipeline.lib.vcf.identity import UNKNOWN, BuildError, build_of, make_variant_id
from vcf_pipeline.lib.vcf.normalise import Normaliser
from vcf_pipeline.lib.vcf.parsed import VARIANT_SCHEMA, classify_variant

IDENTITY = ("variant_id", "assembly", "chrom", "pos", "ref", "alt")
DERIVED = ("variant_type", "description", "text_hash", "embedding", "embedding_model", *COHORT)
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
    """Edits through both stores, recorded in the curation overlay (`lib/curations.py`) so that
    ingests keep them. Each edit lands in LanceDB and Kuzu together or in neither: Kuzu's
    transaction stays open while LanceDB is written, and LanceDB is put back if anything fails.
    `embed` turns texts into vectors (the configured model); `model_id` names it."""

    def __init__(self, store: VariantStore, graph: GraphStore, embed: Callable[[list[str]], np.ndarray], model_id: str):
        self.store, self.graph, self.embed, self.model_id = store, graph, embed, model_id
        self.log = CurationLog(store)

    def _dimension(self) -> int | None:
        if VARIANTS not in self.store.table_names():
            return None
        return self.store.db.open_table(VARIANTS).schema.field("embedding").type.list_size

    def _embedded(self, row: dict, re_embed: bool, vector=None) -> pa.Table:
        if vector is not None:
            row["embedding"], row["embedding_model"] = [float(x) for x in vector], USER_VECTOR
        elif re_embed:
            row["embedding"], row["embedding_model"] = self.embed([row["description"]])[0].tolist(), self.model_id
        dimension = self._dimension() or len(row["embedding"])
        if len(row["embedding"]) != dimension:
            raise CurationError(f"the embedding has {len(row['embedding'])} dimensions; the table's have {dimension}")
        return pa.Table.from_pylist([row], schema=variants_schema(dimension))

    def _write(self, row: dict, data: pa.Table, before: dict | None, curation: Curation) -> None:
        """Write one variant's row and its curation to both stores, or to neither."""
        previous = self.log.overlay().by_id.get(row["variant_id"])
        touched = False
        try:
            with self.graph.transaction() as conn:
                GraphStore.upsert_variants_in(conn, [row])
                touched = True
                self.store.upsert_variants(data.to_batches(), data.schema.field("embedding").type.list_size)
                self.log.record([curation])
        except BaseException:
            if touched:  # Kuzu rolled back; put LanceDB back as it was
                if before is None:
                    self.store.delete_variants([row["variant_id"]])
                else:
                    self.store.upsert_variants([pa.Table.from_pylist([before], schema=data.schema).to_batches()[0]], data.schema.field("embedding").type.list_size)
                self._restore_curations([row["variant_id"]], {row["variant_id"]: previous} if previous else {})
            raise

    def _restore_curations(self, variant_ids: list[str], previous: dict[str, Curation]) -> None:
        self.log.forget([v for v in variant_ids if v not in previous])
        self.log.record(list(previous.values()))

    def resolve(self, text: str) -> str:
        """The stored id a user's id names (its build may be left out when only one build has it)."""
        try:
            return resolve_variant_id(text, self.stored_ids)
        except VariantIdError as exc:
            raise CurationError(str(exc)) from None

    def stored_ids(self, ids: list[str]) -> list[str]:
        """Those of `ids` that `variants` holds."""
        if VARIANTS not in self.store.table_names():
            return []
        return self.store.read(VARIANTS, ["variant_id"], where=in_list("variant_id", ids))["variant_id"].to_pylist()

    def get(self, variant_id: str) -> dict | None:
        rows = self.store.read(VARIANTS, where=f"variant_id = {sql_string(variant_id)}").to_pylist()
        return rows[0] if rows else None

    def add(self, build: str, chrom: str, pos: int, ref: str, alt: str, fields: dict, vector=None) -> dict:
        """A variant no file brought, under the store's identity: `build` (`unknown` allowed), the
        store's contig spelling, trimmed alleles."""
        try:
            assembly = build if build == UNKNOWN else build_of(build)
        except BuildError as exc:
            raise CurationError(str(exc)) from None
        chrom = canonical_contig(chrom)
        normalised = Normaliser().normalise(chrom, pos, ref, alt)
        pos, ref, alt = normalised.pos, normalised.ref, normalised.alt
        variant_id = make_variant_id(assembly, chrom, pos, ref, alt)
        if self.get(variant_id) is not None:
            raise CurationError(f"variant {variant_id} exists; change it with update-variant")
        fields = check_fields(fields)
        row = {f.name: None for f in VARIANT_SCHEMA}
        row.update(fields)
        row.update(variant_id=variant_id, assembly=assembly, chrom=chrom, pos=pos, ref=ref, alt=alt, variant_type=classify_variant(ref, alt))
        row["description"] = describe_variant(row)
        row["text_hash"] = text_hash(row["description"])
        self._write(row, self._embedded(row, re_embed=True, vector=vector), None, new_curation(variant_id, ADDED, fields))
        return row

    def update(self, variant_id: str, changes: dict) -> tuple[dict, bool]:
        """Apply `changes`; re-embed when the variant's text changes. Returns (row, re-embedded)."""
        variant_id = self.resolve(variant_id)
        row = self.get(variant_id)
        if row is None:
            raise CurationError(f"no variant {variant_id}")
        before = dict(row)
        row.update(check_fields(changes))
        description = describe_variant(row)
        re_embed = description != row["description"]
        row["description"], row["text_hash"] = description, text_hash(description)
        data = self._embedded(row, re_embed=re_embed)
        previous = self.log.overlay().by_id.get(variant_id)
        kept = previous.fields if previous is not None and previous.state in (ADDED, EDITED) else {}
        state = ADDED if previous is not None and previous.state == ADDED else EDITED
        self._write(row, data, before, new_curation(variant_id, state, {**kept, **changes}))
        return row, re_embed

    def matching(self, where_sql: str) -> list[str]:
        return self.store.read(VARIANTS, columns=["variant_id"], where=where_sql).column("variant_id").to_pylist() if VARIANTS in self.store.table_names() else []

    def delete(self, variant_ids: list[str]) -> int:
        """Tombstone the variants and delete them from LanceDB (variants, calls, ownership) and Kuzu
        (node and edges), together or not at all. Later ingests leave them out."""
        chunks = [variant_ids[i : i + 2_000] for i in range(0, len(variant_ids), 2_000)]
        saved = {
            name: pa.concat_tables([self.store.read(name, where=in_list("variant_id", chunk)) for chunk in chunks])
            for name in (VARIANTS, CALLS, FILE_VARIANTS) if name in self.store.table_names()
        }
        previous = {v: c for v, c in self.log.overlay().by_id.items() if v in set(variant_ids)}
        touched, deleted = False, 0
        try:
            with self.graph.transaction() as conn:
                GraphStore.delete_variants_in(conn, variant_ids)
                touched = True
                self.log.record([new_curation(v, DELETED, {}) for v in variant_ids])
                deleted = self.store.delete_variants(variant_ids)
        except BaseException:
            if touched:  # Kuzu rolled back; put LanceDB's rows back
                self.store.delete_variants(variant_ids)  # whatever part of the delete went through, then all of it back
                for name, rows in saved.items():
                    self.store.add_rows(name, rows)
                self._restore_curations(variant_ids, previous)
            raise
        return deleted
