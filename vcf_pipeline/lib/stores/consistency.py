"""Checks that the stores hold what they should: a partition's parse (the asset checks), or a
snapshot's manifest (a restore)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vcf_pipeline.lib.backup.snapshots import SnapshotError, StoreManifest
from vcf_pipeline.lib.stores.graph_store import GraphStore
from vcf_pipeline.lib.stores.id_sets import IdIndex
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import CALLS, VARIANTS, sql_string
from vcf_pipeline.lib.stores.warehouse import PartitionFiles, stream_batches
from vcf_pipeline.lib.stores.warehouse_root import WarehouseFile
from vcf_pipeline.lib.vcf.calls import CARRIER_ZYGOSITIES


@dataclass
class CheckOutcome:
    passed: bool
    description: str
    metadata: dict


def unique_variant_ids(files: PartitionFiles) -> CheckOutcome:
    ids = files.variants.open().read(columns=["variant_id"]).column(0)
    distinct = pc.count_distinct(ids).as_py()
    return CheckOutcome(distinct == len(ids), f"{distinct} distinct ids in {len(ids)} rows", {"rows": len(ids), "distinct": distinct})


def embeddings_sane(files: PartitionFiles, dimension: int) -> CheckOutcome:
    """One row per parsed variant; each vector written of the model's dimension and of unit length
    (read batch by batch: a 1M-variant file holds 1.5 GB of vectors). A row without a vector is a
    text the store had embedded already."""
    parsed = files.variants.open().metadata.num_rows
    width = files.embeddings.schema().field("embedding").type.list_size
    rows = vectors = bad_norms = 0
    for batch in stream_batches(files.embeddings, columns=["embedding"]):
        written = pc.drop_null(batch.column(0))
        matrix = written.flatten().to_numpy().reshape(len(written), width)
        bad_norms += int(np.sum(np.abs(np.linalg.norm(matrix, axis=1) - 1.0) > 1e-3))
        rows += batch.num_rows
        vectors += len(written)
    passed = rows == parsed and width == dimension and bad_norms == 0
    return CheckOutcome(
        passed,
        f"{rows}/{parsed} rows ({vectors} vectors new, {rows - vectors} stored already), dimension {width} (model {dimension}), {bad_norms} not unit length",
        {"rows": rows, "vectors_written": vectors, "parsed_variants": parsed, "dimension": width, "bad_norms": bad_norms},
    )


def _parsed_counts(files: PartitionFiles, tombstones: set[str], carriers: bool = False) -> tuple[int, int]:
    """(variants, calls) of the partition's parse, less those of tombstoned (curated-away) variants;
    with `carriers`, only the calls of carriers (the graph's CARRIES edges)."""
    dead = pa.array(sorted(tombstones), pa.string())

    def count(file: WarehouseFile) -> int:
        if not len(dead):
            return file.open().metadata.num_rows
        return sum(b.num_rows - (pc.sum(pc.is_in(b.column(0), value_set=dead)).as_py() or 0) for b in stream_batches(file, columns=["variant_id"]))

    def count_carriers() -> int:
        kept = 0
        for batch in stream_batches(files.calls, columns=["variant_id", "zygosity"]):
            alive = pc.invert(pc.is_in(batch.column(0), value_set=dead))
            kept += pc.sum(pc.and_(alive, pc.is_in(batch.column(1), value_set=pa.array(CARRIER_ZYGOSITIES)))).as_py() or 0
        return kept

    return count(files.variants), count_carriers() if carriers else count(files.calls)


def lancedb_holds_partition(files: PartitionFiles, store: VariantStore, tombstones: set[str] = frozenset()) -> CheckOutcome:
    """Every parsed variant (not tombstoned) is in `variants`, and `calls` holds exactly the partition's calls."""
    stored = store.read(VARIANTS, ["variant_id"])
    stored_ids = IdIndex(stored.column("variant_id") if stored.num_rows else pa.array([], pa.string()))
    present = 0
    for batch in stream_batches(files.variants, columns=["variant_id"]):
        present += int((stored_ids.positions(batch.column(0)) >= 0).sum())
    parsed, parsed_calls = _parsed_counts(files, tombstones)
    stored_calls = store.count(CALLS, f"partition_key = {sql_string(files.partition_key)}")
    return CheckOutcome(
        present == parsed and stored_calls == parsed_calls,
        f"variants present {present}/{parsed}; calls stored {stored_calls}, parsed {parsed_calls}",
        {"variants_present": present, "variants_parsed": parsed, "calls_stored": stored_calls, "calls_parsed": parsed_calls},
    )


def graph_holds_partition(files: PartitionFiles, graph: GraphStore, tombstones: set[str] = frozenset()) -> CheckOutcome:
    """The file's CONTAINS and CARRIES edges match its parsed variants and carriers' calls (less tombstoned ones)."""
    key = {"pk": files.partition_key}
    contains = graph.count("(:VcfFile {partition_key: $pk})-[:CONTAINS]->(:Variant)", key)
    carries = graph.count("(:Sample)-[r:CARRIES]->(:Variant) WHERE r.partition_key = $pk", key)
    parsed, parsed_calls = _parsed_counts(files, tombstones, carriers=True)
    return CheckOutcome(
        contains == parsed and carries == parsed_calls,
        f"CONTAINS {contains}/{parsed}; CARRIES {carries}/{parsed_calls}",
        {"contains": contains, "variants_parsed": parsed, "carries": carries, "calls_parsed": parsed_calls},
    )


def verify_restored_counts(store: str, folder: Path, manifest: StoreManifest) -> None:
    """Raise unless the store downloaded into `folder` holds the row counts its manifest recorded."""
    if store == "lancedb":
        found = {t: v["rows"] for t, v in VariantStore(folder).table_stats().items()}
        expected = {t: v["rows"] for t, v in manifest.tables.items()}
    else:
        graph = GraphStore(folder / "graph.kuzu")
        found, expected = (graph.counts() if graph.path.exists() else {}), manifest.tables
    if found != expected:
        raise SnapshotError(f"snapshot {manifest.snapshot_id}: {store} row counts {found} differ from the manifest's {expected}")
