"""Read commands: filter, export, graph, tables, schema, status (search has its own module). Output is a readable table,
or JSON with `--json`. Every store comes from the home's settings (so `VCF_PIPELINE_LANCEDB_URI`
and the configuration file hold for each command)."""

from __future__ import annotations

from pathlib import Path

from vcf_pipeline.cli.options import (
    Refused,
    add_command,
    add_selection_options,
    say,
    selection_of,
    settings_of,
)
from vcf_pipeline.cli.output import emit, table_rows

DEFAULT_COLUMNS = ["variant_id", "gene_symbol", "consequence", "clinical_significance"]


def open_stores(settings):
    """The home's two stores, after a warning for each write a killed run left unfinished."""
    return open_variant_store(settings), open_graph(settings)


def open_variant_store(settings):
    for write in settings.write_journal().pending():  # answers may hold part of such a file
        say(f"warning: {write.describe()}; its rows may be partial until it is ingested again")
    store = settings.variant_store()
    store.check_identity()  # OldIdentityError, a refusal; the graph checks itself on its first query
    return store


def open_graph(settings):
    """The home's graph, or, where another machine owns the deployment's graph, its latest snapshot
    (lib/stores/graph_owner.py), said on stderr."""
    graph = settings.graph_store()
    if graph.snapshot:
        say(f"graph: as of snapshot {graph.snapshot}; the deployment's graph is written on another machine")
    return graph


def variants_table(store):
    from vcf_pipeline.lib.stores.variant_tables import VARIANTS

    try:
        return store.open_table(VARIANTS)
    except LookupError as exc:
        raise Refused(str(exc)) from None


def parse_filter(text: str | None, schema):
    from vcf_pipeline.lib.query.filter_grammar import FilterError, column_kinds
    from vcf_pipeline.lib.query.filter_grammar import parse_filter as parse

    if text is None:
        return None
    try:
        return parse(text, column_kinds(schema))
    except FilterError as exc:
        raise Refused(f"filter refused: {exc}") from exc


def chosen_columns(select: str | None, schema, default: list[str]) -> list[str]:
    if not select:
        return [c for c in default if c in schema.names]
    wanted = [c.strip() for c in select.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in schema.names]
    if unknown:
        raise Refused(f"unknown column(s) {', '.join(unknown)} (known: {', '.join(schema.names)})")
    return wanted


def selected(args, schema) -> str:
    """The SQL of a command's filter expression and selection options (at least one is needed)."""
    from vcf_pipeline.lib.search.selection import all_of

    where = parse_filter(args.expr, schema)
    sql = all_of(where.sql if where else None, selection_of(args).sql())
    if sql is None:
        raise Refused("give a filter EXPR, or --region, --regions or --genes")
    return sql


def family_samples(store, family: str, samples) -> tuple[str, ...]:
    """The samples of a loaded family; with `samples` also given, those of them in the family."""
    from vcf_pipeline.lib.stores.pedigrees import family_of

    try:
        members = tuple(p.name for p in family_of(store, family))
    except LookupError as exc:
        raise Refused(str(exc)) from None
    chosen = tuple(s for s in samples if s in members) if samples else members
    if not chosen:
        raise Refused(f"none of {', '.join(samples)} is in family {family}")
    return chosen


def cmd_filter(args) -> int:
    from vcf_pipeline.lib.stores.variant_tables import VARIANTS

    store = open_variant_store(settings_of(args))
    schema = variants_table(store).schema
    where = selected(args, schema)
    columns = chosen_columns(args.select, schema, ["variant_id", "chrom", "pos", "ref", "alt", *DEFAULT_COLUMNS[1:]])
    rows = table_rows(store.read(VARIANTS, columns=columns, where=where, limit=args.limit))
    emit(args, {"filter": args.expr, "selection": selection_of(args).describe(), "count": len(rows), "rows": rows}, rows, columns)
    return 0


def cmd_export(args) -> int:
    from vcf_pipeline.lib.query.export import (
        ExportRefused,
        default_columns,
        export_rows,
    )

    store = open_variant_store(settings_of(args))
    table = variants_table(store)
    where = selected(args, table.schema)
    if args.format == "vcf":
        return _export_vcf(args, store, table, where)
    columns = chosen_columns(args.select, table.schema, default_columns(table.schema, args.format))
    try:
        written = export_rows(table, where, columns, args.format, Path(args.out), args.batch_rows)
    except ExportRefused as exc:
        raise Refused(str(exc)) from None
    emit(args, {"filter": args.expr, "format": args.format, "out": args.out, "rows": written})
    return 0


def cmd_genotypes(args) -> int:
    from vcf_pipeline.lib.query.genotypes import (
        CALL_COLUMNS,
        ONLY_SMALL_FILES,
        VARIANT_COLUMNS,
        GenotypeFilter,
        GenotypeRefused,
        select_genotypes,
    )
    from vcf_pipeline.lib.search.selection import all_of
    from vcf_pipeline.lib.stores.variant_tables import CALLS

    store = open_variant_store(settings_of(args))
    table = variants_table(store)
    where = parse_filter(args.expr, table.schema)
    variant_where = all_of(where.sql if where else None, selection_of(args).sql())
    samples = tuple(s.strip() for s in (args.samples or "").split(",") if s.strip())
    if args.family:
        samples = family_samples(store, args.family, samples)
    if args.gt in ONLY_SMALL_FILES:
        say(f"--gt {args.gt}: listed for files of at most {settings_of(args)['samples.keep_all_calls_up_to']} samples; larger cohorts count them only")
    wanted = GenotypeFilter(args.gt, args.min_gq, args.min_dp, args.min_ab, args.max_ab, samples)
    if CALLS not in store.table_names():
        raise Refused("no calls in this store: none of its files has samples")
    try:
        rows = select_genotypes(table, store.open_table(CALLS), variant_where, wanted, None if args.out else args.limit)
    except GenotypeRefused as exc:
        raise Refused(str(exc)) from None
    if args.out:
        from vcf_pipeline.lib.query.export import write_rows

        emit(args, {"filter": args.expr, "gt": args.gt, "format": args.format, "out": args.out, "rows": write_rows(rows, args.format, Path(args.out))})
        return 0
    shown = table_rows(rows)
    emit(args, {"filter": args.expr, "selection": selection_of(args).describe(), "gt": args.gt, "count": len(shown), "rows": shown},
         shown, [c for c in [*VARIANT_COLUMNS[:5], "gene_symbol", *CALL_COLUMNS] if c != "ad"])  # fmt: skip
    return 0


def _export_vcf(args, store, table, where: str) -> int:
    from vcf_pipeline.lib.query.vcf_export import VcfExportRefused, export_vcf
    from vcf_pipeline.lib.stores.variant_tables import CALLS

    if args.select:
        raise Refused("--select does not apply to a VCF: its columns are the format's")
    samples = [s.strip() for s in args.samples.split(",") if s.strip()] if args.samples is not None else None
    if args.family:
        samples = list(family_samples(store, args.family, samples))
    calls = store.open_table(CALLS) if CALLS in store.table_names() else None
    try:
        written = export_vcf(table, calls, where, Path(args.out), samples)
    except VcfExportRefused as exc:
        raise Refused(str(exc)) from None
    emit(args, {"filter": args.expr, "format": "vcf", "out": args.out, "index": args.out + ".tbi", "rows": written, "samples": samples})
    return 0


def cmd_graph(args) -> int:
    from vcf_pipeline.lib.samples.questions import QUESTIONS

    if args.query in QUESTIONS:
        from vcf_pipeline.cli.samples import ask_family

        return ask_family(args)
    if args.filter or args.min_gq is not None:
        raise Refused("--filter and --min-gq apply to the family questions (" + ", ".join(QUESTIONS) + ")")
    from vcf_pipeline.lib.search.selection import selected_ids
    from vcf_pipeline.lib.stores.graph_queries import keep_variants, run_graph_query
    from vcf_pipeline.lib.stores.graph_store import GraphBusyError

    store, graph = open_stores(settings_of(args))
    selection = selection_of(args)
    try:
        result = run_graph_query(graph, args.query, args.args, gene=args.gene, wait_s=args.wait)
        if selection.sql():
            result = keep_variants(result, selected_ids(variants_table(store), selection.sql()), args.query)
    except ValueError as exc:
        raise Refused(str(exc)) from exc
    except GraphBusyError as exc:
        say(f"vcf-pipeline graph: the graph stayed locked by a pipeline run for {args.wait:.0f}s: {exc}")
        return 1
    rows = result.to_pylist()
    emit(args, {"query": args.query, "args": args.args, "gene": args.gene, "rows": rows}, rows, result.column_names)
    return 0


def cmd_tables(args) -> int:
    store, graph = open_stores(settings_of(args))
    lancedb = [{"store": "lancedb", "table": t, "rows": v["rows"], "version": v["version"]} for t, v in sorted(store.table_stats().items())]
    kuzu = [{"store": "kuzu", "table": t, "rows": n, "version": None} for t, n in (graph.counts().items() if graph.path.exists() else [])]
    emit(args, {"lancedb": lancedb, "kuzu": kuzu}, lancedb + kuzu, ["store", "table", "rows", "version"])
    return 0


def cmd_schema(args) -> int:
    store = open_variant_store(settings_of(args))
    try:
        schema = store.open_table(args.table).schema
    except LookupError as exc:
        raise Refused(str(exc)) from None
    rows = [{"column": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]
    emit(args, {"table": args.table, "columns": rows}, rows, ["column", "type", "nullable"])
    return 0


def _variants_by_build(store) -> dict[str, int]:
    from vcf_pipeline.lib.stores.variant_tables import VARIANTS

    if VARIANTS not in store.table_names():
        return {}
    counts = store.read(VARIANTS, ["assembly"])["assembly"].value_counts().to_pylist()
    return {c["values"]: c["counts"] for c in sorted(counts, key=lambda c: -c["counts"])}


def cmd_status(args) -> int:
    from vcf_pipeline.instance.home import last_materialized
    from vcf_pipeline.lib.backup.s3_errors import S3SettingsError
    from vcf_pipeline.lib.backup.snapshots import SnapshotError

    settings = settings_of(args)
    store = open_variant_store(settings)
    try:
        graph = open_graph(settings)
        kuzu, graph_from = (graph.counts() if graph.path.exists() else {}), (f"snapshot {graph.snapshot}" if graph.snapshot else str(graph.path))
    except (SnapshotError, S3SettingsError) as exc:  # the graph is on another machine, with no snapshot to read
        kuzu, graph_from = {}, f"not readable here: {exc}"
    indexes = store.indexes()
    payload = {
        "home": str(settings.home),
        "lancedb_uri": store.uri,
        "lancedb": store.table_stats(),
        "graph": graph_from,
        "kuzu": kuzu,
        "last_ingest": last_materialized(settings, "lancedb_variants"),
        "last_backup": last_materialized(settings, "lancedb_backup"),
        "indexes": indexes,
        "variants_by_build": _variants_by_build(store),
    }
    if args.json:
        emit(args, payload)
        return 0
    print(f"home         {settings.home}")
    print(f"lancedb      {store.uri}")
    print(f"graph        {graph_from}")
    print(f"last ingest  {payload['last_ingest'] or 'never'}")
    print(f"last backup  {payload['last_backup'] or 'never'}")
    for t, v in payload["lancedb"].items():
        kinds = ", ".join(f"{i['type']}({', '.join(i['columns'])})" for i in indexes.get(t, [])) or "no index"
        print(f"lancedb {t:<14} {v['rows']:>9} rows  v{v['version']:<5} {kinds}")
    for t, n in payload["kuzu"].items():
        print(f"kuzu    {t:<14} {n:>9}")
    builds = ", ".join(f"{build} {n:,}" for build, n in payload["variants_by_build"].items())
    print(f"variants by build  {builds or 'none'}")
    return 0


def add_commands(commands) -> None:
    import argparse

    from vcf_pipeline.lib.query.export import FORMATS
    from vcf_pipeline.lib.stores.graph_queries import QUERIES

    p = add_command(commands, "filter", cmd_filter, "variants matching a filter expression, regions or genes", json=True)
    p.add_argument("expr", metavar="EXPR", nargs="?", help="e.g. \"gene_symbol = 'BRCA1' AND impact = 'HIGH'\"")
    add_selection_options(p)
    p.add_argument("--select", metavar="COLS")
    p.add_argument("--limit", type=int, default=100)

    p = add_command(commands, "export", cmd_export, "stream the variants matching a filter, regions or genes to a file", json=True)
    p.add_argument("expr", metavar="EXPR", nargs="?")
    add_selection_options(p)
    p.add_argument("--format", choices=FORMATS, required=True)
    p.add_argument("--out", required=True, metavar="PATH")
    p.add_argument("--select", metavar="COLS")
    p.add_argument("--samples", metavar="S1,S2", help="vcf: the samples whose calls to write (default: every sample with a call in the selection)")
    p.add_argument("--family", help="vcf: the samples of this family (samples load FILE.ped)")
    p.add_argument("--batch-rows", type=int, default=50_000, help=argparse.SUPPRESS)

    from vcf_pipeline.lib.query.genotypes import GT_CLASSES

    p = add_command(commands, "genotypes", cmd_genotypes, "calls of the selected variants and samples, by genotype and quality", json=True)
    p.add_argument("expr", metavar="EXPR", nargs="?", help="a filter on the variants, e.g. \"impact = 'HIGH'\"")
    add_selection_options(p)
    p.add_argument("--samples", metavar="S1,S2", help="only these samples")
    p.add_argument("--family", help="only the samples of this family (samples load FILE.ped)")
    p.add_argument("--gt", choices=GT_CLASSES, default="carrier", help="carrier (default), het, hom_alt, hemizygous, hom_ref, no_call")
    p.add_argument("--min-gq", type=int, metavar="N")
    p.add_argument("--min-dp", type=int, metavar="N")
    p.add_argument("--min-ab", type=float, metavar="F", help="allele balance (ALT depth / REF+ALT depth) at least F")
    p.add_argument("--max-ab", type=float, metavar="F")
    p.add_argument("--limit", type=int, default=1000, help="rows printed (an --out file gets every row)")
    p.add_argument("--out", metavar="PATH", help="write every selected call to a file instead")
    p.add_argument("--format", choices=[f for f in FORMATS if f != "vcf"], default="parquet", help="of --out (default parquet)")

    from vcf_pipeline.lib.samples.questions import QUESTIONS

    named = "; ".join([*(f"{n} {' '.join(q.params).upper()}" for n, q in QUERIES.items()), *(f"{n} FAMILY" for n in QUESTIONS)])
    p = add_command(commands, "graph", cmd_graph, "named graph queries: " + named, json=True, wait_s=30.0)
    p.add_argument("query", choices=sorted([*QUERIES, *QUESTIONS]))
    p.add_argument("args", nargs="*")
    p.add_argument("--gene", help="carriers-of-significance and family questions: only variants in this gene")
    p.add_argument("--filter", metavar="EXPR", help="family questions: a filter on the variants, e.g. \"impact = 'HIGH' AND cohort_af < 0.05\"")
    p.add_argument("--min-gq", type=int, metavar="N", help="family questions: calls count with GQ >= N (default 20)")
    add_selection_options(p)

    add_command(commands, "tables", cmd_tables, "tables of both stores, with row counts", json=True)
    p = add_command(commands, "schema", cmd_schema, "columns of a LanceDB table", json=True)
    p.add_argument("table")
    add_command(commands, "status", cmd_status, "row counts, last ingest, last backup, indexes", json=True)
