"""Checks that the stores hold what they should: a partition's parse (the asset checks), or a
snapshot's manifest (a restore)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vcf_pipeline.lib.kuzu_store import GraphStore
from vcf_pipeline.lib.lancedb_store import CALLS, VARIANTS, VariantStore, sql_string
from vcf_pipeline.lib.s3_sync import SnapshotError, StoreManifest
from vcf_pipeline.lib.warehouse import PartitionFiles


@dataclass
class CheckOutcome:
    passed: bool
    description: str
    metadata: dict


def unique_variant_ids(files: PartitionFiles) -> CheckOutcome:
    ids = pq.read_table(files.variants, columns=["variant_id"]).column(0)
    distinct = pc.count_distinct(ids).as_py()
    return CheckOutcome(distinct == len(ids), f"{distinct} distinct ids in {len(ids)} rows", {"rows": len(ids), "distinct": distinct})


def embeddings_sane(files: PartitionFiles, dimension: int) -> CheckOutcome:
    """One vector per parsed variant, of the model's dimension and of unit length."""
    table = pq.read_table(files.embeddings, columns=["embedding"])
    parsed = pq.ParquetFile(files.variants).metadata.num_rows
    width = table.schema.field("embedding").type.list_size
    norms = np.linalg.norm(table.column(0).combine_chunks().flatten().to_numpy().reshape(table.num_rows, width), axis=1) if table.num_rows else np.ones(0)
    bad_norms = int(np.sum(np.abs(norms - 1.0) > 1e-3))
    passed = table.num_rows == parsed and width == dimension and bad_norms == 0
    return CheckOutcome(
        passed,
        f"{table.num_rows}/{parsed} vectors, dimension {width} (model {dimension}), {bad_norms} not unit length",
        {"vectors": table.num_rows, "parsed_variants": parsed, "dimension": width, "bad_norms": bad_norms},
    )


def lancedb_holds_partition(files: PartitionFiles, store: VariantStore) -> CheckOutcome:
    """Every parsed variant is in `variants`, and `calls` holds exactly the partition's calls."""
    ids = pq.read_table(files.variants, columns=["variant_id"]).column(0).to_pylist()
    present = 0
    for start in range(0, len(ids), 2_000):
        chunk = ids[start : start + 2_000]
        present += store.count(VARIANTS, f"variant_id IN ({', '.join(map(sql_string, chunk))})")
    parsed_calls = pq.ParquetFile(files.calls).metadata.num_rows
    stored_calls = store.count(CALLS, f"partition_key = {sql_string(files.partition_key)}")
    return CheckOutcome(
        present == len(ids) and stored_calls == parsed_calls,
        f"variants present {present}/{len(ids)}; calls stored {stored_calls}, parsed {parsed_calls}",
        {"variants_present": present, "variants_parsed": len(ids), "calls_stored": stored_calls, "calls_parsed": parsed_calls},
    )


def graph_holds_partition(files: PartitionFiles, graph: GraphStore) -> CheckOutcome:
    """The file's CONTAINS and CARRIES edges match its parsed variants and calls."""
    key = {"pk": files.partition_key}
    contains = graph.count("(:VcfFile {partition_key: $pk})-[:CONTAINS]->(:Variant)", key)
    carries = graph.count("(:Sample)-[r:CARRIES]->(:Variant) WHERE r.partition_key = $pk", key)
    parsed = pq.ParquetFile(files.variants).metadata.num_rows
    parsed_calls = pq.ParquetFile(files.calls).metadata.num_rows
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
