"""The curation overlay: what people decided about variants, kept apart from what files say.

LanceDB table `curations`, one row per curated variant: `state` is `added` (a variant no file
brought), `edited` (columns set by hand, in `fields` as JSON) or `deleted` (a tombstone), with who
and when. Ingest applies the overlay to every file it writes (edited columns win over the file's,
tombstoned variants are left out with their calls), so a re-ingest never undoes a curation, and a
retraction never removes a curated addition or forgets a tombstone: the overlay outlives the files.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc

CURATIONS = "curations"
ADDED, EDITED, DELETED = "added", "edited", "deleted"
SCHEMA = pa.schema(
    [
        ("variant_id", pa.string()),
        ("state", pa.string()),
        ("fields", pa.string()),  # JSON: column -> value (for `added`, every column given)
        ("curated_by", pa.string()),
        ("curated_at", pa.string()),
    ]
)


@dataclass(frozen=True)
class Curation:
    variant_id: str
    state: str
    fields: dict
    curated_by: str
    curated_at: str

    def row(self) -> dict:
        return {"variant_id": self.variant_id, "state": self.state, "fields": json.dumps(self.fields, sort_keys=True),
                "curated_by": self.curated_by, "curated_at": self.curated_at}


def new_curation(variant_id: str, state: str, fields: dict) -> Curation:
    return Curation(variant_id, state, fields, getpass.getuser(), datetime.now(timezone.utc).isoformat(timespec="seconds"))


@dataclass(frozen=True)
class Overlay:
    """The curations in force, by variant id."""

    by_id: dict[str, Curation]

    @property
    def tombstones(self) -> set[str]:
        return {k for k, c in self.by_id.items() if c.state == DELETED}

    @property
    def additions(self) -> set[str]:
        return {k for k, c in self.by_id.items() if c.state == ADDED}

    def edited_fields(self, variant_id: str) -> dict | None:
        curation = self.by_id.get(variant_id)
        return curation.fields if curation is not None and curation.state in (ADDED, EDITED) else None

    def without_tombstoned(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """The batches without rows of tombstoned variants (variants, ownership or calls)."""
        dead = pa.array(sorted(self.tombstones), pa.string())
        for batch in batches:
            if len(dead) and batch.num_rows:
                batch = batch.filter(pc.invert(pc.is_in(batch.column("variant_id"), value_set=dead)))
            yield batch


class CurationLog:
    """The `curations` table of a LanceDB database (`store.db`)."""

    def __init__(self, store):
        self.store = store

    def overlay(self) -> Overlay:
        if CURATIONS not in self.store.table_names():
            return Overlay({})
        table = self.store.db.open_table(CURATIONS)
        rows = table.search().limit(None).to_arrow().to_pylist()
        return Overlay({r["variant_id"]: Curation(**{**r, "fields": json.loads(r["fields"] or "{}")}) for r in rows})

    def record(self, curations: list[Curation]) -> None:
        if not curations:
            return
        table = self.store.db.create_table(CURATIONS, schema=SCHEMA, exist_ok=True)
        data = pa.Table.from_pylist([c.row() for c in curations], SCHEMA)
        table.merge_insert("variant_id").when_matched_update_all().when_not_matched_insert_all().execute(data)

    def forget(self, variant_ids: list[str]) -> None:
        """Remove curations (to undo a write that failed half-way)."""
        if CURATIONS in self.store.table_names() and variant_ids:
            self.store.db.open_table(CURATIONS).delete("variant_id IN (" + ", ".join("'" + v.replace("'", "''") + "'" for v in variant_ids) + ")")
