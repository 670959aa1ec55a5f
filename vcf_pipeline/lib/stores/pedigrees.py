"""Pedigrees in the stores: LanceDB table `samples` (one row per person, the record a backup keeps)
and the graph's `Sample` properties with `PARENT_OF` edges (what family queries walk).

Sample identity: a `Sample` is its name, shared by every file that names it, so a person sequenced
twice is one sample; a source with a `sample_namespace` prefixes its names (`lab1:NA12878`) where
two labs reuse a name for different people, and a PED for it is loaded with the same namespace. A
PED may name people no file holds yet: they are kept, and matched by name when their files arrive.
Loading a PED replaces the families it names, whole; other families stay as they are."""

from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa

from vcf_pipeline.lib.samples.pedigree import Person
from vcf_pipeline.lib.search.selection import quoted
from vcf_pipeline.lib.stores.lancedb_session import retry_conflicts

SAMPLES = "samples"
PERSON_COLUMNS = ("name", "family", "father", "mother", "sex", "phenotype")
SAMPLES_SCHEMA = pa.schema(
    [*(pa.field(c, pa.string()) for c in PERSON_COLUMNS), pa.field("ped_file", pa.string()), pa.field("loaded_at", pa.timestamp("us", "UTC"))]
)


def store_pedigree(store, graph, people: list[Person], ped_file: str) -> dict:
    """Replace the families of `people` in both stores: the graph in one transaction around the
    LanceDB commit, so a failure in either leaves both as they were. Returns what changed."""
    families = sorted({p.family for p in people})
    now = datetime.now(timezone.utc)
    rows = pa.Table.from_pylist([{**p.as_row(), "ped_file": ped_file, "loaded_at": now} for p in people], SAMPLES_SCHEMA)
    table = store.db.create_table(SAMPLES, schema=SAMPLES_SCHEMA, exist_ok=True)
    of_families = f"family IN ({', '.join(map(quoted, families))})"  # PED text, validated and quoted
    before = table.count_rows(of_families)
    with graph.transaction() as conn:
        for edge in ("(s:Sample)-[r:PARENT_OF]->(:Sample)", "(:Sample)-[r:PARENT_OF]->(s:Sample)"):
            conn.execute(f"MATCH {edge} WHERE s.family IN $families DELETE r", {"families": families})
        conn.execute(
            "MATCH (s:Sample) WHERE s.family IN $families SET s.family = NULL, s.father = NULL, s.mother = NULL, s.sex = NULL, s.phenotype = NULL",
            {"families": families},
        )
        conn.execute(
            "UNWIND $people AS p MERGE (s:Sample {name: p.name}) "
            "SET s.family = p.family, s.father = p.father, s.mother = p.mother, s.sex = p.sex, s.phenotype = p.phenotype",
            {"people": [p.as_row() for p in people]},
        )
        links = [{"parent": parent, "child": p.name} for p in people for parent in (p.father, p.mother) if parent]
        if links:
            conn.execute(
                "UNWIND $links AS l MATCH (parent:Sample {name: l.parent}), (child:Sample {name: l.child}) CREATE (parent)-[:PARENT_OF]->(child)",
                {"links": links},
            )
        retry_conflicts(
            lambda: table.merge_insert("name")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .when_not_matched_by_source_delete(of_families)
            .execute(rows)
        )
    return {"families": families, "people": len(people), "replaced": before, "parent_links": len(links)}


def people(store, family: str | None = None) -> list[Person]:
    """The people of the loaded pedigrees (of one family), by family and name."""
    if SAMPLES not in store.table_names():
        return []
    rows = store.read(SAMPLES, list(PERSON_COLUMNS), f"family = {quoted(family)}" if family is not None else None)
    found = [Person(**row) for row in rows.to_pylist()]
    return sorted(found, key=lambda p: (p.family, p.name))


def family_of(store, family: str) -> list[Person]:
    """The people of one family; LookupError naming the families there are when it is unknown."""
    members = people(store, family)
    if not members:
        known = sorted({p.family for p in people(store)})
        hint = f"families: {', '.join(known[:20])}" if known else "no pedigree is loaded (vcf-pipeline samples load FILE.ped)"
        raise LookupError(f"no family {family!r} ({hint})")
    return members
