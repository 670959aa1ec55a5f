"""Everything Dagster loads: assets (with their checks), jobs and resources."""

import dagster as dg

from vcf_pipeline.defs.ingest import ingest_assets, ingest_job
from vcf_pipeline.defs.resources import default_resources

defs = dg.Definitions(assets=ingest_assets, jobs=[ingest_job], resources=default_resources())
