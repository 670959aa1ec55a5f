import dagster as dg

# The four per-file steps (group `ingest`), one run per partition.
ingest_job = dg.define_asset_job("ingest_vcf", selection=dg.AssetSelection.groups("ingest"))
