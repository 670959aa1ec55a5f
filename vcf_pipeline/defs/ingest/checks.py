"""Asset checks of each ingest step, evaluated by the step itself for its partition (the file)."""

from __future__ import annotations

import dagster as dg

from vcf_pipeline.defs.ingest.partitions import vcf_files
from vcf_pipeline.lib.stores.consistency import CheckOutcome


def _per_file(name: str, asset: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, description=description, partitions_def=vcf_files)


UNIQUE_IDS = _per_file("unique_variant_ids", "parsed_variants", "variant_id is unique within the file")
EMBEDDINGS_SANE = _per_file("embedding_dimension", "variant_embeddings", "one unit-length vector of the model's dimension per variant")
LANCEDB_COUNTS = _per_file("counts_match_parse", "lancedb_variants", "every parsed variant is stored; calls match the parse")
KUZU_COUNTS = _per_file("counts_match_parse", "kuzu_graph", "CONTAINS and CARRIES edges match the parsed variants and calls")


def check_result(spec: dg.AssetCheckSpec, outcome: CheckOutcome, partition_key: str) -> dg.AssetCheckResult:
    # The result belongs to the run's partition; its description names the file too, for views
    # that list results of all partitions together.
    return dg.AssetCheckResult(
        asset_key=spec.asset_key,
        check_name=spec.name,
        passed=outcome.passed,
        description=f"{partition_key}: {outcome.description}",
        metadata={"partition": partition_key, **outcome.metadata},
    )
