import dagster as dg

BACKUP_TAG = "vcf_pipeline/backup"  # one backup at a time: a tag concurrency limit in the instance settings

backup_job = dg.define_asset_job("backup_stores", selection=dg.AssetSelection.groups("backup"), tags={BACKUP_TAG: "snapshot"})
