"""Runs a command executes in its own process, on the home's persistent Dagster instance (so runs,
metadata and checks show in the UI later): ingest (register partitions, then the ingest job per
file) and backup (the backup job). No daemon or UI is needed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from vcf_pipeline.instance.home import prepare_home
from vcf_pipeline.instance.pools import PoolBusy, fail_dead_runs, wait_for_pools
from vcf_pipeline.instance.run_launcher import in_process_run_tags
from vcf_pipeline.lib.settings import Settings
from vcf_pipeline.lib.watch.folder_scan import find_vcf_files

# The summary lines say what failed; the full logs are in the instance (and the UI).
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass
class FileSummary:
    partition_key: str
    path: Path
    ok: bool
    error: str = ""
    run_id: str = ""
    metadata: dict = field(default_factory=dict)  # of parsed_variants and variant_embeddings
    peak_mb: dict = field(default_factory=dict)  # step -> the most it held resident (MB)

    def line(self) -> str:
        f = self.metadata
        if not self.ok:
            return f"FAILED  {self.partition_key}: {self.error}"
        return (
            f"ok      {self.partition_key}: records={f.get('records', 0)} variants={f.get('variants', 0)} "
            f"samples={f.get('samples', 0)} calls={f.get('calls', 0)} ref_blocks_skipped={f.get('reference_blocks_skipped', 0)} "
            f"embedded_new={f.get('embedded_new', 0)} embeddings_cached={f.get('reused_cached', 0)}"
            + (" peak_mb=" + ",".join(f"{step}:{mb:.0f}" for step, mb in self.peak_mb.items()) if self.peak_mb else "")
        )


def _metadata(result, asset: str) -> dict:
    metadata = {}
    for materialization in result.asset_materializations_for_node(asset):
        metadata.update({k: v.value for k, v in materialization.metadata.items()})
    return metadata


# step -> the asset and metadata key of the most it held resident; `upkeep` (index, compaction) runs
# in the LanceDB step, after its last file's write
_PEAKS = {"parse": ("parsed_variants", "peak_rss_mb"), "embed": ("variant_embeddings", "peak_rss_mb"),
          "write": ("lancedb_variants", "peak_rss_mb"), "upkeep": ("lancedb_variants", "upkeep_peak_rss_mb"),
          "graph": ("kuzu_graph", "peak_rss_mb")}


def _step_peaks(result) -> dict[str, float]:
    """The most each step of the run held resident, as it recorded."""
    peaks = {step: _metadata(result, asset).get(key) for step, (asset, key) in _PEAKS.items()}
    return {step: mb for step, mb in peaks.items() if mb is not None}


def _failure(result) -> str:
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            if data.user_failure_data and data.user_failure_data.description:
                return data.user_failure_data.description
            error = data.error
            while error is not None and error.cause is not None:  # the user's exception, not Dagster's wrapper
                error = error.cause
            return f"{event.step_key}: {error.message.strip() if error else 'failed'}"
    return "run failed"


def ingest_paths(
    home: Path, paths: list[Path], wait_s: float = 600.0, report=lambda line: None, build: str | None = None, reference: Path | None = None
) -> list[FileSummary]:
    """Register every VCF under `paths` as a partition and materialise it; failures do not stop the rest.
    `build` and `reference`, when given, are recorded for these files and apply to every later run.

    Before each file, runs whose process died are failed and their pool slots freed; a pool held by
    a live run is waited for, at most `wait_s` seconds (`report` hears who holds it)."""
    settings = Settings.load(home)
    prepare_home(settings)
    # Imported after prepare_home: loading the definitions reads the home's settings.
    from vcf_pipeline.definitions import defs

    sources = settings.source_folders()
    files = find_vcf_files([Path(p) for p in paths])
    keys = [sources.key_for(f) for f in files]
    sources.pin(keys, build, reference)
    job = defs.resolve_job_def("ingest_vcf")
    summaries = []
    with dg.DagsterInstance.get() as instance:
        known = set(instance.get_dynamic_partitions("vcf_files"))
        instance.add_dynamic_partitions("vcf_files", [k for k in dict.fromkeys(keys) if k not in known])
        for key, path in zip(keys, files):
            try:
                wait_for_pools(instance, wait_s, report=report)
            except PoolBusy as exc:
                summaries.append(FileSummary(key, path, False, str(exc)))
                continue
            result = job.execute_in_process(
                partition_key=key, instance=instance, raise_on_error=False, run_config=QUIET, tags=in_process_run_tags()
            )
            metadata = {**_metadata(result, "parsed_variants"), **_metadata(result, "variant_embeddings")}
            metadata["variants"] = metadata.get("dagster/row_count", 0)
            summaries.append(FileSummary(key, path, result.success, "" if result.success else _failure(result), result.run_id, metadata,
                                         _step_peaks(result)))
    return summaries


@dataclass
class BackupSummary:
    ok: bool
    error: str = ""
    stores: dict = field(default_factory=dict)  # store -> backup asset metadata
    checks: dict = field(default_factory=dict)  # check name -> passed

    @property
    def snapshot_id(self) -> str:
        return next((m["snapshot_id"] for m in self.stores.values()), "")


def back_up(home: Path) -> BackupSummary:
    """Materialise both backup assets (and their checks) on the home's instance: one snapshot."""
    prepare_home(home)
    from vcf_pipeline.definitions import defs

    with dg.DagsterInstance.get() as instance:
        fail_dead_runs(instance)
        result = defs.resolve_job_def("backup_stores").execute_in_process(
            instance=instance, raise_on_error=False, run_config=QUIET, tags=in_process_run_tags()
        )
    if not result.success:
        return BackupSummary(False, _failure(result))
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    return BackupSummary(True, stores={s: _metadata(result, f"{s}_backup") for s in ("lancedb", "kuzu")}, checks=checks)
