"""The query and curation commands of `vcf-pipeline`: search, filter, export, graph, tables, schema,
status, add-variant, update-variant, delete-variants, create-index.

Output is a readable table, or JSON with `--json`. Exit status: 0 done, 1 failed, 2 bad usage or
refused input (a filter outside the grammar, an unknown column, a wrong type)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa

from vcf_pipeline.instance import resolve_home

DEFAULT_COLUMNS = ["variant_id", "gene_symbol", "consequence", "clinical_significance"]
WRITE_WAIT_S = 120.0


class Refused(Exception):
    """Bad usage or refused input: exit 2 with this message."""


# --- shared helpers -----------------------------------------------------------------------------


def _stores(home: Path):
    from vcf_pipeline.lib.kuzu_store import GraphStore
    from vcf_pipeline.lib.lancedb_store import VariantStore
    from vcf_pipeline.lib.write_journal import WriteJournal

    for write in WriteJournal(home / "writes").pending():  # answers may hold part of such a file
        print(f"warning: {write.describe()}; its rows may be partial until it is ingested again", file=sys.stderr)
    return VariantStore(home / "lancedb"), GraphStore(home / "kuzu" / "graph.kuzu")


def _variants_table(store):
    from vcf_pipeline.lib.lancedb_store import VARIANTS

    if VARIANTS not in store.table_names():
        raise Refused(f"no variants table under {store.uri}: nothing has been ingested yet")
    return store.db.open_table(VARIANTS)


def _parse_filter(text: str | None, schema: pa.Schema):
    from vcf_pipeline.lib.sqlfilter import FilterError, column_kinds, parse_filter

    if text is None:
        return None
    try:
        return parse_filter(text, column_kinds(schema))
    except FilterError as exc:
        raise Refused(f"filter refused: {exc}") from exc


def _columns(select: str | None, schema: pa.Schema, default: list[str]) -> list[str]:
    if not select:
        return [c for c in default if c in schema.names]
    wanted = [c.strip() for c in select.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in schema.names]
    if unknown:
        raise Refused(f"unknown column(s) {', '.join(unknown)} (known: {', '.join(schema.names)})")
    return wanted


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _emit(args, payload: dict, rows: list[dict] | None = None, columns: list[str] | None = None) -> None:
    if args.json:
        print(json.dumps(payload, default=_plain, indent=1))
        return
    if rows is None:
        for key, value in payload.items():
            print(f"{key}: {value}")
        return
    columns = columns or (list(rows[0]) if rows else [])
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        text = ", ".join(map(str, value))
        return text if len(text) <= 60 else text[:57] + "..."
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _rows(table: pa.Table, drop=("embedding",)) -> list[dict]:
    return table.drop_columns([c for c in drop if c in table.column_names]).to_pylist()


@contextmanager
def _curation(home: Path, args, columns: list[str] | None = None, filter_masked: str | None = None, pools=("lancedb", "kuzu")):
    """One curation write: both stores' pools held for its length (so no pipeline step writes
    meanwhile), and an audit line for the attempt whatever its outcome. Yields a dict whose "rows"
    the command sets."""
    import dagster as dg

    from vcf_pipeline.instance import prepare_home
    from vcf_pipeline.lib.audit import append_audit
    from vcf_pipeline.lib.curation import CurationError
    from vcf_pipeline.pools import PoolBusy, holding_pools

    prepare_home(home)
    done = {"rows": 0}
    outcome = "ok"
    try:
        with dg.DagsterInstance.get() as instance:
            report = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
            with holding_pools(instance, args.command, args.wait, pools, report=report):
                yield done
    except (Refused, CurationError):
        outcome = "refused"
        raise
    except PoolBusy as exc:
        outcome = "failed: PoolBusy"
        raise RuntimeError(str(exc)) from None
    except BaseException as exc:
        outcome = f"failed: {type(exc).__name__}"
        raise
    finally:
        append_audit(home, args.command, rows=done["rows"] if outcome == "ok" else 0, filter_masked=filter_masked, columns=columns, outcome=outcome)


def _embedder():
    import os

    from vcf_pipeline.lib.embed import DEFAULT_BACKEND, DEFAULT_MODEL, Embedder

    # The same settings as the pipeline's `embedding_model` resource: a query vector must come from
    # the model and backend that embedded the store.
    return Embedder(
        model=os.environ.get("VCF_PIPELINE_MODEL", DEFAULT_MODEL),
        backend=os.environ.get("VCF_PIPELINE_EMBED_BACKEND", DEFAULT_BACKEND),
        device=os.environ.get("VCF_PIPELINE_DEVICE", "cpu"),
    )


# --- read commands ------------------------------------------------------------------------------


def cmd_search(args) -> int:
    store, _ = _stores(resolve_home(args.home))
    table = _variants_table(store)
    schema = table.schema
    dimension = schema.field("embedding").type.list_size
    where = _parse_filter(args.filter, schema)  # refused before any work
    columns = _columns(args.select, schema, DEFAULT_COLUMNS)
    if args.vector:
        source = sys.stdin.read() if args.vector == "-" else Path(args.vector).read_text()
        try:
            vector = [float(x) for x in json.loads(source)]
        except (ValueError, TypeError) as exc:
            raise Refused(f"--vector: expected a JSON list of numbers ({exc})") from exc
        if len(vector) != dimension:
            raise Refused(f"--vector has {len(vector)} numbers; the table's embeddings have {dimension}")
        query = "<vector>"
    else:
        if not args.text:
            raise Refused("give TEXT to search for, or --vector FILE|-")
        query = " ".join(args.text)
        vector = _embedder().encode([query])[0]
    tuning = {k: v for k, v in (("nprobes", args.nprobes), ("refine_factor", args.refine_factor)) if v is not None}
    store.policy = dataclasses.replace(store.policy, **tuning)
    hits = store.search(vector, limit=args.limit, where=where.sql if where else None, columns=columns, exact=args.exact)
    rows = [{**{k: v for k, v in r.items() if k != "_distance"}, "distance": r["_distance"]} for r in _rows(hits)]
    _emit(args, {"query": query, "filter": args.filter, "results": rows}, rows, [*columns, "distance"])
    return 0


def cmd_filter(args) -> int:
    store, _ = _stores(resolve_home(args.home))
    table = _variants_table(store)
    where = _parse_filter(args.expr, table.schema)
    columns = _columns(args.select, table.schema, ["variant_id", "chrom", "pos", "ref", "alt", *DEFAULT_COLUMNS[1:]])
    rows = _rows(table.search().where(where.sql).select(columns).limit(args.limit).to_arrow())
    _emit(args, {"filter": args.expr, "count": len(rows), "rows": rows}, rows, columns)
    return 0


def cmd_export(args) -> int:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    store, _ = _stores(resolve_home(args.home))
    table = _variants_table(store)
    where = _parse_filter(args.expr, table.schema)
    def flat(field: pa.Field) -> bool:  # CSV holds no lists (vectors, conditions)
        return not (pa.types.is_list(field.type) or pa.types.is_fixed_size_list(field.type))

    default = [f.name for f in table.schema if args.format != "csv" or flat(f)]
    columns = _columns(args.select, table.schema, default)
    if args.format == "csv" and not all(flat(table.schema.field(c)) for c in columns):
        raise Refused("CSV cannot hold list columns (embedding, conditions): export them as parquet or arrow")
    reader = table.search().where(where.sql).select(columns).limit(None).to_batches(args.batch_rows)
    out = Path(args.out)
    written = 0
    # Batches stream from LanceDB to the file: the table is never held in memory.
    if args.format == "parquet":
        writer = pq.ParquetWriter(out, reader.schema)
    elif args.format == "arrow":
        writer = pa.ipc.new_file(out, reader.schema)
    else:
        writer = pcsv.CSVWriter(out, reader.schema)
    with writer:
        for batch in reader:
            writer.write_batch(batch)
            written += batch.num_rows
    _emit(args, {"filter": args.expr, "format": args.format, "out": str(out), "rows": written})
    return 0


def cmd_graph(args) -> int:
    from vcf_pipeline.lib.graph_queries import run_graph_query
    from vcf_pipeline.lib.kuzu_store import GraphBusyError

    _, graph = _stores(resolve_home(args.home))
    try:
        result = run_graph_query(graph, args.query, args.args, gene=args.gene, wait_s=args.wait)
    except ValueError as exc:
        raise Refused(str(exc)) from exc
    except GraphBusyError as exc:
        print(f"vcf-pipeline graph: the graph stayed locked by a pipeline run for {args.wait:.0f}s: {exc}", file=sys.stderr)
        return 1
    rows = result.to_pylist()
    _emit(args, {"query": args.query, "args": args.args, "gene": args.gene, "rows": rows}, rows, result.column_names)
    return 0


def cmd_tables(args) -> int:
    store, graph = _stores(resolve_home(args.home))
    lancedb = [{"store": "lancedb", "table": t, "rows": v["rows"], "version": v["version"]} for t, v in sorted(store.table_stats().items())]
    kuzu = [{"store": "kuzu", "table": t, "rows": n, "version": None} for t, n in (graph.counts().items() if graph.path.exists() else [])]
    _emit(args, {"lancedb": lancedb, "kuzu": kuzu}, lancedb + kuzu, ["store", "table", "rows", "version"])
    return 0


def cmd_schema(args) -> int:
    store, _ = _stores(resolve_home(args.home))
    if args.table not in store.table_names():
        raise Refused(f"no table {args.table!r} (tables: {', '.join(store.table_names())})")
    schema = store.db.open_table(args.table).schema
    rows = [{"column": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]
    _emit(args, {"table": args.table, "columns": rows}, rows, ["column", "type", "nullable"])
    return 0


def cmd_status(args) -> int:
    import dagster as dg

    from vcf_pipeline.instance import prepare_home

    home = resolve_home(args.home)
    store, graph = _stores(home)
    prepare_home(home)

    def last(asset: str):
        with dg.DagsterInstance.get() as instance:
            records = instance.fetch_materializations(dg.AssetKey(asset), limit=1).records
        return datetime.fromtimestamp(records[0].timestamp).astimezone().isoformat(timespec="seconds") if records else None

    indexes = {}
    for name in store.table_names():
        indexes[name] = [
            {"name": i.name, "type": i.index_type, "columns": list(i.columns)} for i in store.db.open_table(name).list_indices()
        ]
    payload = {
        "home": str(home),
        "lancedb": store.table_stats(),
        "kuzu": graph.counts() if graph.path.exists() else {},
        "last_ingest": last("lancedb_variants"),
        "last_backup": last("lancedb_backup"),
        "indexes": indexes,
    }
    if args.json:
        _emit(args, payload)
        return 0
    print(f"home         {home}")
    print(f"last ingest  {payload['last_ingest'] or 'never'}")
    print(f"last backup  {payload['last_backup'] or 'never'}")
    for t, v in payload["lancedb"].items():
        kinds = ", ".join(f"{i['type']}({', '.join(i['columns'])})" for i in indexes.get(t, [])) or "no index"
        print(f"lancedb {t:<14} {v['rows']:>9} rows  v{v['version']:<5} {kinds}")
    for t, n in payload["kuzu"].items():
        print(f"kuzu    {t:<14} {n:>9}")
    return 0


# --- write commands -----------------------------------------------------------------------------


def _curator(home: Path):
    from vcf_pipeline.lib.curation import Curator

    store, graph = _stores(home)
    embedder = _embedder()
    return Curator(store, graph, embedder.encode, embedder.model_id)


def cmd_add_variant(args) -> int:
    home = resolve_home(args.home)
    fields = {k: v for k, v in {
        "gene_symbol": args.gene_symbol, "consequence": args.consequence, "impact": args.impact, "hgvs_c": args.hgvs_c,
        "hgvs_p": args.hgvs_p, "clinical_significance": args.clinical_significance, "rsid": args.rsid,
        "conditions": args.condition or None, "allele_frequency": args.allele_frequency,
    }.items() if v is not None}
    vector = json.loads(Path(args.embedding).read_text()) if args.embedding else None
    with _curation(home, args, columns=sorted(fields)) as done:
        row = _curator(home).add(args.chrom, args.pos, args.ref, args.alt, fields, vector)
        done["rows"] = 1
    _emit(args, {"variant_id": row["variant_id"], "description": row["description"], "embedding_model": row["embedding_model"]})
    return 0


def cmd_update_variant(args) -> int:
    home = resolve_home(args.home)
    try:
        changes = json.loads(args.set)
    except json.JSONDecodeError as exc:
        raise Refused(f"--set is not JSON: {exc}") from exc
    if not isinstance(changes, dict) or not changes:
        raise Refused('--set takes a JSON object of columns to values, e.g. \'{"clinical_significance": "Benign"}\'')
    with _curation(home, args, columns=sorted(changes)) as done:
        row, re_embedded = _curator(home).update(args.variant_id, changes)
        done["rows"] = 1
    _emit(args, {"variant_id": row["variant_id"], "changed": sorted(changes), "re_embedded": re_embedded, "description": row["description"]})
    return 0


def cmd_delete_variants(args) -> int:
    home = resolve_home(args.home)
    store, _ = _stores(home)
    where = _parse_filter(args.expr, _variants_table(store).schema)
    curator = _curator(home)
    ids = curator.matching(where.sql)
    if not ids:
        _emit(args, {"filter": args.expr, "deleted": 0})
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise Refused(f"{len(ids)} variants match; pass --yes to delete them (no terminal to ask)")
        answer = input(f"delete {len(ids)} variants (with their calls and graph edges)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    with _curation(home, args, filter_masked=where.masked) as done:
        ids = curator.matching(where.sql)  # again, now that no run writes: what matches at the delete
        done["rows"] = curator.delete(ids) if ids else 0
    _emit(args, {"filter": args.expr, "deleted": done["rows"]})
    return 0


def cmd_create_index(args) -> int:
    home = resolve_home(args.home)
    store, _ = _stores(home)
    table = _variants_table(store) if args.table == "variants" else None
    if table is None:
        if args.table not in store.table_names():
            raise Refused(f"no table {args.table!r}")
        table = store.db.open_table(args.table)
    if args.column not in table.schema.names:
        raise Refused(f"unknown column {args.column!r} in {args.table}")
    kind = args.type.upper()
    rows = table.count_rows()
    details: dict = {"table": args.table, "column": args.column, "index_type": kind, "rows": rows}
    if kind in ("IVF_PQ", "IVF_HNSW_SQ"):
        field = table.schema.field(args.column)
        if not pa.types.is_fixed_size_list(field.type):
            raise Refused(f"{args.column} is not a vector column")
        if rows < 256:
            raise Refused(f"{args.table} has {rows} rows; a vector index needs at least 256 to train (exact search is fast below that)")
        dimension = field.type.list_size
        # About sqrt(rows) partitions; PQ with 16-dimension sub-vectors (the count must divide the dimension).
        options = {"num_partitions": args.partitions or max(1, min(4096, int(math.sqrt(rows))))}
        if kind == "IVF_PQ":
            options["num_sub_vectors"] = args.sub_vectors or next(d for d in (dimension // 16, dimension // 8, dimension // 4, 1) if d and dimension % d == 0)
        details.update(options)
        with _curation(home, args, columns=[args.column], pools=("lancedb",)) as done:
            table.create_index(metric="cosine", vector_column_name=args.column, index_type=kind, replace=True, **options)
            done["rows"] = rows
    elif kind in ("BTREE", "BITMAP"):
        with _curation(home, args, columns=[args.column], pools=("lancedb",)) as done:
            table.create_scalar_index(args.column, index_type=kind, replace=True)
            done["rows"] = rows
    else:
        raise Refused(f"index type {args.type!r}: one of BTREE, BITMAP, IVF_PQ, IVF_HNSW_SQ")
    _emit(args, details)
    return 0


# --- the parsers --------------------------------------------------------------------------------


def add_commands(commands) -> None:
    def command(name: str, handler, help: str, writes: bool = False):
        parser = commands.add_parser(name, help=help, description=help)
        parser.add_argument("--home", help="pipeline home (default: $VCF_PIPELINE_HOME or ./data)")
        parser.add_argument("--json", action="store_true", help="JSON output")
        if writes:
            parser.add_argument("--wait", type=float, default=WRITE_WAIT_S, help="seconds to wait while a pipeline run writes (default 120)")
        parser.set_defaults(run=_guarded(handler))
        return parser

    p = command("search", cmd_search, "nearest variants to a text (embedded with the configured model) or a vector")
    p.add_argument("text", nargs="*", metavar="TEXT")
    p.add_argument("--vector", metavar="FILE|-", help="a JSON list of numbers instead of TEXT")
    p.add_argument("--filter", metavar="EXPR", help="e.g. \"clinical_significance LIKE 'Pathogenic%%' AND chrom = '17'\"")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--select", metavar="COLS", help="comma-separated columns")
    p.add_argument("--nprobes", type=int, help="index partitions probed (default 32; more: better recall, slower)")
    p.add_argument("--refine-factor", type=int, help="candidates re-ranked on exact vectors, x limit (default 20)")
    p.add_argument("--exact", action="store_true", help="exact search, ignoring the vector index")

    p = command("filter", cmd_filter, "variants matching a filter expression")
    p.add_argument("expr", metavar="EXPR")
    p.add_argument("--select", metavar="COLS")
    p.add_argument("--limit", type=int, default=100)

    p = command("export", cmd_export, "stream the variants matching a filter to a file")
    p.add_argument("expr", metavar="EXPR")
    p.add_argument("--format", choices=["parquet", "arrow", "csv"], required=True)
    p.add_argument("--out", required=True, metavar="PATH")
    p.add_argument("--select", metavar="COLS")
    p.add_argument("--batch-rows", type=int, default=50_000, help=argparse.SUPPRESS)

    from vcf_pipeline.lib.graph_queries import QUERIES

    p = command("graph", cmd_graph, "named graph queries: " + "; ".join(f"{n} {' '.join(q.params).upper()}" for n, q in QUERIES.items()))
    p.add_argument("query", choices=sorted(QUERIES))
    p.add_argument("args", nargs="*")
    p.add_argument("--gene", help="carriers-of-significance: only variants in this gene")
    p.add_argument("--wait", type=float, default=30.0, help="seconds to wait while a pipeline run holds the graph")

    command("tables", cmd_tables, "tables of both stores, with row counts")
    p = command("schema", cmd_schema, "columns of a LanceDB table")
    p.add_argument("table")
    command("status", cmd_status, "row counts, last ingest, last backup, indexes")

    p = command("add-variant", cmd_add_variant, "add a variant (embedded from its description unless --embedding is given)", writes=True)
    for name in ("chrom", "ref", "alt"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--pos", type=int, required=True)
    for name in ("gene-symbol", "consequence", "impact", "hgvs-c", "hgvs-p", "clinical-significance", "rsid"):
        p.add_argument(f"--{name}")
    p.add_argument("--condition", action="append", help="repeatable")
    p.add_argument("--allele-frequency", type=float)
    p.add_argument("--embedding", metavar="FILE", help="a JSON list of numbers")

    p = command("update-variant", cmd_update_variant, "change columns of one variant (re-embedded when its text changes)", writes=True)
    p.add_argument("variant_id")
    p.add_argument("--set", required=True, metavar="JSON")

    p = command("delete-variants", cmd_delete_variants, "delete the variants matching a filter, from both stores", writes=True)
    p.add_argument("expr", metavar="EXPR")
    p.add_argument("--yes", action="store_true", help="do not ask")

    p = command("create-index", cmd_create_index, "scalar (BTREE, BITMAP) or vector (IVF_PQ, IVF_HNSW_SQ) index", writes=True)
    p.add_argument("column")
    p.add_argument("--type", required=True, metavar="TYPE")
    p.add_argument("--table", default="variants")
    p.add_argument("--partitions", type=int, help="IVF partitions (default about sqrt(rows))")
    p.add_argument("--sub-vectors", type=int, help="PQ sub-vectors (default dimension/16)")


def _guarded(handler):
    from vcf_pipeline.lib.curation import CurationError

    def run(args) -> int:
        try:
            return handler(args)
        except (Refused, CurationError) as exc:  # an edit the store refuses is refused input too
            print(f"vcf-pipeline {args.command}: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # a failure, said in one line; the traceback helps nobody at a terminal
            print(f"vcf-pipeline {args.command}: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1

    return run
