"""Retraction: when a watched file is deleted, its rows leave LanceDB and Kuzu (and the variants,
genes, conditions and samples only it held), as if the file had never been ingested."""


import dagster as dg

from vcf_pipeline.defs.ingest.partitions import vcf_files
from vcf_pipeline.defs.resources import PipelineSettings
from vcf_pipeline.instance.pools import PoolsUnlimited, require_single_writer
from vcf_pipeline.lib.stores.curation_log import CurationLog
from vcf_pipeline.lib.stores.stored_rows import refresh, vectors_for


class RetractConfig(dg.Config):
    partition_keys: list[str]


def _still_deleted(context: dg.OpExecutionContext, keys: list[str]) -> list[str]:
    """Keys whose partition is still gone. A file put back meanwhile has a new ingest run, which
    replaces its rows itself; retracting it now could remove what that run writes."""
    kept = [k for k in keys if not context.instance.has_dynamic_partition(vcf_files.name, k)]
    for key in sorted(set(keys) - set(kept)):
        context.log.info(f"{key}: registered again since its deletion; left to its new ingest run")
    return kept


def _retract_each(context: dg.OpExecutionContext, keys: list[str], retract, store: str) -> None:
    try:
        require_single_writer(context.instance, store.lower())
    except PoolsUnlimited as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    for key in _still_deleted(context, keys):
        removed = retract(key)
        context.log.info(f"{key}: its rows left {store}, with {removed} variants no other file holds")


@dg.op(pool="lancedb", out=dg.Out(dg.Nothing), tags={"kind": "lancedb"})
def retract_from_lancedb(context: dg.OpExecutionContext, config: RetractConfig, settings: PipelineSettings) -> None:
    home = settings.current()
    store = home.variant_store()
    overlay, embedder = CurationLog(store).overlay(), home.embedder()

    def retract(key: str) -> int:
        removed, shared = store.retract_partition(key)
        # What the other files say of the variants they shared with it, merged anew.
        refresh(store, shared, overlay, lambda texts: vectors_for(store, texts, embedder.model_id, embedder.encode))
        return removed

    _retract_each(context, config.partition_keys, retract, "LanceDB")
    upkeep = store.maintain()  # deletes leave deletion files and unindexed gaps: compact when they pile up
    context.log.info(f"table upkeep: {'; '.join(upkeep.actions) or 'none needed'} ({upkeep.seconds:.1f}s)")
    if upkeep.error:
        context.log.warning(f"table upkeep failed (retried by the next write): {upkeep.error}")


@dg.op(pool="kuzu", ins={"lancedb_done": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing), tags={"kind": "kuzu"})
def retract_from_kuzu(context: dg.OpExecutionContext, config: RetractConfig, settings: PipelineSettings) -> None:
    """After LanceDB: variants other files still hold take their annotation as LanceDB stores it now."""
    home = settings.current()
    graph, store, journal = home.graph_store(), home.variant_store(), home.write_journal()
    additions = CurationLog(store).overlay().additions

    def retract(key: str) -> int:
        removed = graph.retract_partition(key, spare=additions, refresh=store.rows_of)
        journal.end(key)  # a killed write of the file, if any, is moot now
        return removed

    _retract_each(context, config.partition_keys, retract, "Kuzu")


@dg.op(ins={"lancedb_done": dg.In(dg.Nothing), "kuzu_done": dg.In(dg.Nothing)})
def remove_warehouse_files(context: dg.OpExecutionContext, config: RetractConfig, settings: PipelineSettings) -> None:
    for key in _still_deleted(context, config.partition_keys):
        settings.current().partition_files(key).remove()


@dg.job(description="Removes deleted files' rows from LanceDB and Kuzu; launched by the folder sensor.")
def retract_vcf_files():
    lancedb_done = retract_from_lancedb()
    remove_warehouse_files(lancedb_done=lancedb_done, kuzu_done=retract_from_kuzu(lancedb_done=lancedb_done))


def retraction_run_config(partition_keys: list[str]) -> dg.RunConfig:
    config = RetractConfig(partition_keys=list(partition_keys))
    return dg.RunConfig(ops={op.name: config for op in (retract_from_lancedb, retract_from_kuzu, remove_warehouse_files)})
