"""Per-file ingest: parse -> embed -> LanceDB and Kuzu. Each asset is one step over the run's files:
one file, or a group of small files the folder sensor (or a backfill) put into one run, each with its
own partition's materialisation and metadata."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from vcf_pipeline.defs.ingest.checks import (
    EMBEDDINGS_SANE,
    KUZU_COUNTS,
    LANCEDB_COUNTS,
    UNIQUE_IDS,
    check_result,
)
from vcf_pipeline.defs.ingest.partitions import vcf_files
from vcf_pipeline.defs.metadata import (
    column_schema,
    file_summary_metadata,
    identity_metadata,
    preview,
)
from vcf_pipeline.defs.resources import PipelineSettings, settings_at_load
from vcf_pipeline.instance.pools import PoolsUnlimited, require_single_writer
from vcf_pipeline.lib.embedding.embedder import embed_variant_file
from vcf_pipeline.lib.query.file_summary import summarise_file
from vcf_pipeline.lib.stores import consistency
from vcf_pipeline.lib.stores.consistency import CheckOutcome
from vcf_pipeline.lib.stores.curation_log import CurationLog
from vcf_pipeline.lib.stores.stored_rows import (
    as_stored_now,
    store_partition,
    vectors_for,
)
from vcf_pipeline.lib.stores.variant_tables import VARIANTS, variants_schema
from vcf_pipeline.lib.stores.warehouse import (
    EMBEDDINGS,
    build_of,
    parse_into,
    stream_batches,
)
from vcf_pipeline.lib.stores.write_journal import sweep_after_killed_writes
from vcf_pipeline.lib.system.memory import Peak, peak_resident, release_free_memory
from vcf_pipeline.lib.vcf.annotation_merge import transcript_rank
from vcf_pipeline.lib.vcf.calls import SampleOptions
from vcf_pipeline.lib.vcf.faults import VcfFormatError
from vcf_pipeline.lib.watch.partition_keys import decode_key

# One partition per file; a backfill puts up to `ingest.files_per_run` files into one run, as the sensor does.
PER_FILE = dict(partitions_def=vcf_files, group_name="ingest",
                backfill_policy=dg.BackfillPolicy.multi_run(max(1, settings_at_load()["ingest.files_per_run"])))


@contextmanager
def _step_memory() -> Iterator[Peak]:
    """The steps of a run share one process: each hands back what it freed, and what the checks and
    summaries after the last one freed, before its own work piles on it; the `Peak` given holds the
    most the step held resident (its `peak_rss_mb`)."""
    release_free_memory()
    try:
        with peak_resident() as peak:
            yield peak
    finally:
        release_free_memory()


def _may_write(context: dg.AssetExecutionContext, pool: str) -> None:
    """A write step holds its store's pool: refuse if the instance lets another writer hold it too."""
    try:
        require_single_writer(context.instance, pool)
    except PoolsUnlimited as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None


def _still_registered(context: dg.AssetExecutionContext, key: str) -> None:
    """Refuse to write a file deleted meanwhile (its partition is gone and a retraction run is on its
    way: writing would bring its rows back after the retraction)."""
    if not context.instance.has_dynamic_partition(vcf_files.name, key):
        raise dg.Failure(description=f"partition {key!r} was deleted (its file is gone) before this step ran; nothing written", allow_retries=False)


def _each_file(context: dg.AssetExecutionContext, spec: dg.AssetCheckSpec, step: Callable[[str], tuple[dict, CheckOutcome]]) -> dg.MaterializeResult:
    """`step(key)` for each file of the run, its metadata on that file's materialisation, and one
    check result (the file's own when the run has one file). A file that fails fails the step once
    the others have run, naming each; a group that failed is then run again file by file
    (`split_failed_groups` in defs/watch/sensors.py), so that only the bad file's partition fails."""
    if context.has_partition_key:  # one file: its result as it is
        metadata, outcome = step(context.partition_key)
        return dg.MaterializeResult(metadata=metadata, check_results=[check_result(spec, outcome, context.partition_key)])
    keys = context.partition_keys
    outcomes, failures = {}, {}
    for key in keys:
        try:
            metadata, outcomes[key] = step(key)
        except Exception as exc:
            failures[key] = exc.description if isinstance(exc, dg.Failure) else f"{type(exc).__name__}: {exc}"
            context.log.error(f"{key}: {failures[key]}")
            continue
        context.add_asset_metadata(metadata, partition_key=key)
    if failures:
        raise dg.Failure(
            description=f"{len(failures)} of {len(keys)} files failed: " + "; ".join(f"{k}: {why}" for k, why in failures.items()),
            metadata={"failed_files": "\n".join(failures), "files_in_run": len(keys)},
        )
    failed = [k for k, o in outcomes.items() if not o.passed]
    return dg.MaterializeResult(check_results=[dg.AssetCheckResult(
        asset_key=spec.asset_key, check_name=spec.name, passed=not failed,
        description="; ".join(f"{k}: {outcomes[k].description}" for k in (failed or keys[:20])),
        metadata={"files": len(keys), "failed_files": "\n".join(failed) or "none"},
    )])


@dg.asset(**PER_FILE, kinds={"pysam", "parquet"}, check_specs=[UNIQUE_IDS])
def parsed_variants(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    """Variants (one row per ALT allele) and per-sample calls of one VCF file, as Parquet."""
    home = settings.current()
    sources = home.source_folders()
    return _each_file(context, UNIQUE_IDS, lambda key: _parse(home, sources, key))


def _parse(home, sources, key: str) -> tuple[dict, CheckOutcome]:
    path = sources.path_for(key)
    files = home.partition_files(key)
    try:
        with _step_memory() as peak, sources.fetched(key) as (local, origin):
            result = parse_into(
                local, files, home["parse.batch_records"], sources.bad_records_for(key),
                home.identity_options(key, sources), source_hint=f"source {decode_key(key)[0]!r}",
                samples=SampleOptions(home["samples.keep_all_calls_up_to"], sources.sample_namespace_for(key)),
                source=origin,
            )
    except VcfFormatError as exc:
        # A malformed file fails its own partition; the stores are untouched.
        raise dg.Failure(description=str(exc), metadata={"file": exc.path, "reason": exc.reason, "where": exc.where or ""}) from exc
    stats = result.stats
    parsed = files.variants.open()
    head = parsed.read_row_group(0) if stats.variants else None
    return (
        {
            "dagster/row_count": stats.variants,
            "dagster/column_schema": column_schema(parsed.schema_arrow),
            "file": dg.MetadataValue.path(str(path)) if isinstance(path, Path) else dg.MetadataValue.url(path),
            "sha256": result.sha256,
            "format": stats.file_format,
            "records": stats.records,
            "samples": len(stats.samples),
            "calls": stats.calls,
            "reference_blocks_skipped": stats.reference_blocks,
            "star_alleles_skipped": stats.star_alleles,
            "duplicate_variants_merged": stats.duplicate_variants,
            **identity_metadata(stats.identity),
            "telomere_records_skipped": stats.telomere_records,
            "bad_records_skipped": stats.bad_records_skipped,
            **({"bad_record_examples": "\n".join(stats.bad_record_examples)} if stats.bad_record_examples else {}),
            "annotations": ", ".join(stats.annotation_kinds) or "none",
            **({"annotation_source": stats.annotation_source} if stats.annotation_source else {}),
            "reading": stats.reading,
            "parse_seconds": round(result.seconds, 3),
            "peak_rss_mb": peak.mb,
            "records_per_second": round(stats.records / result.seconds, 1) if result.seconds else 0.0,
            **({"preview": preview(head, ["variant_id", "variant_type", "gene_symbol", "consequence", "clinical_significance"])} if head else {}),
        },
        consistency.unique_variant_ids(files),
    )


@dg.asset(**PER_FILE, deps=[parsed_variants], kinds={"sentence-transformers", "parquet"}, check_specs=[EMBEDDINGS_SANE])
def variant_embeddings(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    """A text per variant and its embedding; texts already embedded with this model are reused."""
    home = settings.current()
    embedder = home.embedder()
    store = home.variant_store()
    return _each_file(context, EMBEDDINGS_SANE, lambda key: _embed(home.partition_files(key), embedder, store))


def _embed(files, embedder, store) -> tuple[dict, CheckOutcome]:
    started = time.perf_counter()
    with _step_memory() as peak:
        with files.output(EMBEDDINGS) as out:
            stats = embed_variant_file(files.variants, out, embedder, store.text_hashes(embedder.model_id))
    seconds = time.perf_counter() - started
    embedded = files.embeddings.open()
    head = embedded.read_row_group(0, columns=["variant_id", "description"]) if stats.variants else None
    return (
        {
            "dagster/row_count": stats.variants,
            "dagster/column_schema": column_schema(embedded.schema_arrow),
            "model": embedder.model_id,
            "dimension": embedder.dimension,
            "distinct_texts": stats.distinct_texts,
            "embedded_new": stats.embedded,
            "reused_cached": stats.cached,
            "encode_seconds": round(stats.seconds_encoding, 3),
            "texts_per_second": round(stats.embedded / stats.seconds_encoding, 1) if stats.seconds_encoding else 0.0,
            "step_seconds": round(seconds, 3),
            "peak_rss_mb": peak.mb,
            **({"preview": preview(head, ["variant_id", "description"], width=120)} if head else {}),
        },
        consistency.embeddings_sane(files, embedder.dimension),
    )


def _summary(context, store, key: str, explorer_port: int) -> dict:
    """The file's summary tables and explorer link; a failure to summarise never fails the write."""
    try:
        return file_summary_metadata(summarise_file(store, key), explorer_port)
    except Exception as exc:
        context.log.warning(f"file summary not made ({type(exc).__name__}: {exc}); the variants are stored")
        return {}


@dg.asset(**PER_FILE, deps=[variant_embeddings], kinds={"lancedb"}, pool="lancedb", check_specs=[LANCEDB_COUNTS])
def lancedb_variants(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    """Upserts the file's variants into `variants`, replaces its rows in `file_variants` and `calls`,
    and removes the variants it no longer holds that no other file holds. A variant other files
    hold too shows their merged annotation (lib/vcf/annotation_merge.py); curations win over files:
    edited columns stay as curated, tombstoned variants stay out."""
    _may_write(context, "lancedb")
    home = settings.current()
    store = home.variant_store()
    overlay = CurationLog(store).overlay()
    journal = home.write_journal()
    swept = sweep_after_killed_writes(journal, store)
    if swept:
        context.log.warning(f"swept {swept} variants left by a killed write (no file or curation holds them)")
    embedder = home.embedder()
    vectors = lambda texts: vectors_for(store, texts, embedder.model_id, embedder.encode)  # noqa: E731 (merged or curated texts)

    def write(key: str) -> tuple[dict, CheckOutcome]:
        _still_registered(context, key)
        files = home.partition_files(key)
        rank = transcript_rank(files.source_info()["stats"]["annotation_kinds"])
        started = time.perf_counter()
        journal.begin(key, context.run_id)  # ended by kuzu_graph: the file is then in both stores
        with _step_memory() as peak:
            written = store_partition(store, files, rank, overlay, vectors)
        metadata = {
            "dagster/row_count": written.given,
            "dagster/column_schema": column_schema(variants_schema(embedder.dimension)),
            "variants_inserted": written.inserted,
            "variants_updated": written.updated,
            "variants_unchanged": written.given - written.inserted - written.updated,
            "calls_written": written.calls,
            "variants_removed": written.removed,
            "variants_merged_anew": written.refreshed,
            "variants_swept_after_killed_writes": swept,
            "uri": store.uri,
            "write_seconds": round(time.perf_counter() - started, 3),
            "peak_rss_mb": peak.mb,
        }
        if key == (context.partition_key if context.has_partition_key else context.partition_keys[-1]):
            metadata.update(_upkeep(context, store))  # once a run, after its last file
        metadata.update(variants_table_rows=store.count(VARIANTS), variants_table_version=store.version(VARIANTS))
        return {**metadata, **_summary(context, store, key, home["explorer.port"])}, consistency.lancedb_holds_partition(files, store, overlay.tombstones)

    return _each_file(context, LANCEDB_COUNTS, write)


def _upkeep(context, store) -> dict:
    """Vector index and compaction, while the step holds the lancedb pool; never fails the write."""
    with _step_memory() as peak:
        upkeep = store.maintain()
    if upkeep.error:
        context.log.warning(f"table upkeep failed (the variants are stored; the next write retries it): {upkeep.error}")
    return {"table_upkeep": "; ".join(upkeep.actions) or "none needed", "table_upkeep_error": upkeep.error or "none",
            "upkeep_seconds": round(upkeep.seconds, 3), "upkeep_peak_rss_mb": peak.mb}


@dg.asset(**PER_FILE, deps=[lancedb_variants], kinds={"kuzu"}, pool="kuzu", check_specs=[KUZU_COUNTS])
def kuzu_graph(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.MaterializeResult:
    """Replaces the file's node and edges in the graph and upserts its variants, genes, conditions,
    samples, as LanceDB stored them (merged across files, curated): the two stores agree."""
    _may_write(context, "kuzu")
    home = settings.current()
    graph, store = home.graph_store(), home.variant_store()
    overlay = CurationLog(store).overlay()

    def load(key: str) -> tuple[dict, CheckOutcome]:
        _still_registered(context, key)
        files = home.partition_files(key)
        source = files.source_info()
        started = time.perf_counter()
        with _step_memory() as peak:
            stats = graph.load_partition(
                key, source.get("uri") or source["path"], source["sha256"],
                as_stored_now(stream_batches(files.stored_rows, 50_000), store, overlay),
                lambda: overlay.without_tombstoned(stream_batches(files.calls, 50_000)),
                spare=overlay.additions,
                refreshed=stream_batches(files.refreshed_rows, 50_000),
                build=build_of(source),
                variant_rows=files.stored_rows.open().metadata.num_rows,
            )
        home.write_journal().end(key)  # both stores hold the file now
        metadata = {
            "dagster/row_count": stats.variants_new + stats.variants_updated,
            "variants_new": stats.variants_new,
            "variants_updated": stats.variants_updated,
            "variants_removed": stats.variants_removed,
            "genes_new": stats.genes_new,
            "conditions_new": stats.conditions_new,
            "samples_new": stats.samples_new,
            "carries_edges": stats.carries,
            "database": dg.MetadataValue.path(str(graph.path)),
            "load_seconds": round(time.perf_counter() - started, 3),
            "peak_rss_mb": peak.mb,
        }
        return metadata, consistency.graph_holds_partition(files, graph, overlay.tombstones)

    return _each_file(context, KUZU_COUNTS, load)
