"""Asset checks of each ingest step, evaluated by the step itself for its partition."""

from __future__ import annotations

import dagster as dg

from vcf_pipeline.lib.consistency import CheckOutcome

UNIQUE_IDS = dg.AssetCheckSpec("unique_variant_ids", asset="parsed_variants", description="variant_id is unique within the file")
EMBEDDINGS_SANE = dg.AssetCheckSpec(
    "embedding_dimension", asset="variant_embeddings", description="one unit-length vector of the model's dimension per variant"
)
LANCEDB_COUNTS = dg.AssetCheckSpec(
    "counts_match_parse", asset="lancedb_variants", description="every parsed variant is stored; calls match the parse"
)
KUZU_COUNTS = dg.AssetCheckSpec(
    "counts_match_parse", asset="kuzu_graph", description="CONTAINS and CARRIES edges match the parsed variants and calls"
)


def check_result(spec: dg.AssetCheckSpec, outcome: CheckOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=spec.asset_key,
        check_name=spec.name,
        passed=outcome.passed,
        description=outcome.description,
        metadata=outcome.metadata,
    )
