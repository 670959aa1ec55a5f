"""Rebuilding a home's stores from its files: for stores whose variant ids predate genome builds.

The old stores are moved aside, whole, into `<home>/retired/<time>/` (nothing is deleted); the files
are then ingested again into new stores. Curations (edits, tombstones, additions) are carried over
by site: an old id names a contig, position and alleles but no build, so it is matched, after the
new spelling and trimming, to the one new variant at that site; a site that several builds now
hold is not guessed, but reported.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from vcf_pipeline.lib.stores.curation import CurationError, Curator
from vcf_pipeline.lib.stores.curation_log import ADDED, CURATIONS, DELETED, Curation
from vcf_pipeline.lib.stores.variant_tables import VARIANTS
from vcf_pipeline.lib.stores.warehouse_root import WarehouseRoot
from vcf_pipeline.lib.vcf.contigs import canonical_contig
from vcf_pipeline.lib.vcf.identity import (
    ASSEMBLIES,
    UNKNOWN,
    allele_id_part,
    parse_variant_id,
)
from vcf_pipeline.lib.vcf.normalise import trim


class RebuildRefused(RuntimeError):
    """The stores are not ones this command can move aside (a LanceDB on object storage)."""


@dataclass(frozen=True)
class OldCuration:
    site: str | None  # `chr1-100-A-G` in today's spelling; None when the old id cannot be read back
    curation: Curation


def retire_stores(lancedb_uri: str, kuzu_folder: Path, warehouse: WarehouseRoot, home: Path) -> Path:
    """Move the stores and the warehouse into a new `<home>/retired/<time>/`; returns that folder."""
    if "://" in lancedb_uri:
        raise RebuildRefused(f"LanceDB is at {lancedb_uri}: rebuild moves local folders aside; copy that database away and empty it first")
    if not warehouse.is_local:
        raise RebuildRefused(f"the warehouse is at {warehouse.uri}: rebuild moves local folders aside; empty that prefix first")
    folder = home / "retired" / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    folder.mkdir(parents=True, mode=0o700)
    for name, path in (("lancedb", Path(lancedb_uri)), ("kuzu", kuzu_folder), ("warehouse", Path(warehouse.base))):
        if path.exists():
            shutil.move(str(path), str(folder / name))
    return folder


def old_curations(retired: Path) -> list[OldCuration]:
    """The curations of a retired LanceDB, each with its variant's site in today's spelling."""
    import lancedb

    db = lancedb.connect(str(retired / "lancedb"))
    if CURATIONS not in db.list_tables().tables:
        return []
    rows = db.open_table(CURATIONS).search().limit(None).to_arrow().to_pylist()
    sites = {}
    if VARIANTS in db.list_tables().tables and rows:
        wanted = [r["variant_id"] for r in rows]
        stored = db.open_table(VARIANTS).search().select(["variant_id", "chrom", "pos", "ref", "alt"]).limit(None).to_arrow()
        for v in stored.filter(_is_in(stored, wanted)).to_pylist():
            sites[v["variant_id"]] = _site(v["chrom"], v["pos"], v["ref"], v["alt"])
    carried = []
    for row in rows:
        curation = Curation(**{**row, "fields": json.loads(row["fields"] or "{}")})
        site = sites.get(row["variant_id"])
        if site is None and (parsed := parse_variant_id(row["variant_id"])) is not None and "bp_" not in parsed.site:
            chrom, pos, ref, alt = parsed.site.rsplit("-", 3)
            site = _site(chrom, int(pos), ref, alt)
        carried.append(OldCuration(site, curation))
    return carried


def carry_curations(curator: Curator, olds: list[OldCuration]) -> tuple[int, list[str]]:
    """Apply old curations to the variants now at their sites: an edit or an addition whose site one
    variant holds edits it, a tombstone deletes it, an addition no file brings is added again (build
    `unknown`: its build was never recorded). Returns (carried, a line for each one not carried)."""
    carried, left = 0, []
    for old in olds:
        c = old.curation
        found = curator.stored_ids([f"{a}:{old.site}" for a in ASSEMBLIES]) if old.site else []
        try:
            if len(found) > 1:
                left.append(f"{c.variant_id} ({c.state}): its site is in {len(found)} builds now: {', '.join(found)}")
                continue
            if found and c.state == DELETED:
                curator.delete(found)
            elif found:
                curator.update(found[0], c.fields)
            elif c.state == ADDED and old.site and "bp_" not in old.site:
                chrom, pos, ref, alt = old.site.rsplit("-", 3)
                curator.add(UNKNOWN, chrom, int(pos), ref, alt, c.fields)
            else:
                left.append(f"{c.variant_id} ({c.state}): no variant at its site now")
                continue
        except CurationError as exc:
            left.append(f"{c.variant_id} ({c.state}): {exc}")
            continue
        carried += 1
    return carried, left


def _site(chrom: str, pos: int, ref: str, alt: str) -> str:
    pos, ref, alt = trim(pos, ref.upper(), alt.upper()) if ref.isalpha() and alt.isalpha() else (pos, ref, alt)
    return f"{canonical_contig(chrom)}-{pos}-{allele_id_part(ref)}-{allele_id_part(alt)}"


def _is_in(table, values: list[str]):
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.is_in(table["variant_id"], value_set=pa.array(values, pa.string()))
