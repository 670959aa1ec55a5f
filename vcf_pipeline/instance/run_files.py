"""Which files a run ingests: its partition, or the range of partitions of a group of files (the
folder sensor's groups, a backfill's runs under the assets' backfill policy)."""

from __future__ import annotations

import dagster as dg

from vcf_pipeline.defs.ingest.partitions import vcf_files

PARTITION = "dagster/partition"
# Dagster's own tags for a run over a partition range (as its backfills write them).
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def files_of_run(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[str]:
    """The partition keys `run` ingests, in order; a range is read against the partitions as they
    are now, so a file deleted since is left out."""
    if PARTITION in run.tags:
        return [run.tags[PARTITION]]
    if RANGE_START not in run.tags:
        return []
    keys = instance.get_dynamic_partitions(vcf_files.name)
    start, end = run.tags[RANGE_START], run.tags[RANGE_END]
    if start in keys and end in keys:
        return keys[keys.index(start): keys.index(end) + 1]
    return [k for k in dict.fromkeys((start, end)) if k in keys]
