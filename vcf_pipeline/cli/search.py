"""`search`: hybrid search by default (exact names read first, the rest ranked by keywords and
meaning), `--mode semantic|keyword`, region and gene-list selection, `--queries FILE` for many
queries in one process (JSON lines out), `--explain` for how each query was read."""

from __future__ import annotations

import json
import sys
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
from vcf_pipeline.cli.query import (
    DEFAULT_COLUMNS,
    chosen_columns,
    open_variant_store,
    parse_filter,
    variants_table,
)


def _where(args, schema) -> str | None:
    from vcf_pipeline.lib.search.selection import all_of

    user = parse_filter(args.filter, schema)  # refused before any work
    return all_of(user.sql if user else None, selection_of(args).sql())


def _embedder(settings):
    """`encode(texts)` that loads the model on its first call only: lookups need no model."""
    loaded = []

    def encode(texts):
        if not loaded:
            loaded.append(settings.embedder())  # the model and backend that embedded the store
        return loaded[0].encode(texts)

    return encode


def cmd_search(args) -> int:
    from vcf_pipeline.lib.search.hybrid import SearchRefused, VariantSearch

    settings = settings_of(args)
    store = open_variant_store(settings)
    table = variants_table(store)
    where = _where(args, table.schema)
    columns = chosen_columns(args.select, table.schema, DEFAULT_COLUMNS)
    if args.vector:
        return _by_vector(args, store, table.schema, where, columns)
    policy = store.policy
    search = VariantSearch(
        table, _embedder(settings), nprobes=args.nprobes or policy.nprobes, refine_factor=args.refine_factor or policy.refine_factor, exact=args.exact
    )
    try:
        if args.queries:
            for text in _queries(args.queries):
                result = search.search(text, mode=args.mode, limit=args.limit, where=where, columns=columns)
                answer = {"query": result.query, "mode": result.mode, "reading": result.reading, "note": result.note, "results": result.rows}
                print(json.dumps(answer, default=str), flush=True)
            return 0
        if not args.text:
            raise Refused("give TEXT to search for, --queries FILE, or --vector FILE|-")
        result = search.search(" ".join(args.text), mode=args.mode, limit=args.limit, where=where, columns=columns)
    except SearchRefused as exc:
        raise Refused(str(exc)) from None
    payload = {"query": result.query, "mode": result.mode, "filter": args.filter, "selection": selection_of(args).describe(),
               "reading": result.reading, "note": result.note, "results": result.rows}  # fmt: skip
    if args.explain and not args.json:
        for line in result.reading:
            print(f"read: {line}")
    if result.note and not args.json:
        say(result.note)
    shown = [{**row, "why": "; ".join(row["reasons"])} for row in result.rows] if args.explain else result.rows
    emit(args, payload, shown, [*columns, "score", *(["why"] if args.explain else [])])
    return 0


def _queries(path: str) -> list[str]:
    source = sys.stdin if path == "-" else None
    try:
        lines = (source.read() if source else Path(path).read_text(encoding="utf-8")).splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise Refused(f"--queries {path}: cannot read it ({exc})") from exc
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _by_vector(args, store, schema, where, columns) -> int:
    import dataclasses

    source = sys.stdin.read() if args.vector == "-" else Path(args.vector).read_text()
    try:
        vector = [float(x) for x in json.loads(source)]
    except (ValueError, TypeError) as exc:
        raise Refused(f"--vector: expected a JSON list of numbers ({exc})") from exc
    dimension = schema.field("embedding").type.list_size
    if len(vector) != dimension:
        raise Refused(f"--vector has {len(vector)} numbers; the table's embeddings have {dimension}")
    tuning = {k: v for k, v in (("nprobes", args.nprobes), ("refine_factor", args.refine_factor)) if v is not None}
    store.policy = dataclasses.replace(store.policy, **tuning)
    hits = store.search(vector, limit=args.limit, where=where, columns=columns, exact=args.exact)
    rows = [{**{k: v for k, v in r.items() if k != "_distance"}, "score": round(1.0 - r["_distance"], 6), "distance": r["_distance"]} for r in table_rows(hits)]
    emit(args, {"query": "<vector>", "mode": "vector", "filter": args.filter, "results": rows}, rows, [*columns, "score"])
    return 0


def add_commands(commands) -> None:
    from vcf_pipeline.lib.search.modes import MODES

    p = add_command(
        commands, "search", cmd_search,
        "find variants by what they are called (gene, rsID, HGVS, region, variant id) and what they mean", json=True,
    )  # fmt: skip
    p.add_argument("text", nargs="*", metavar="TEXT", help="e.g. BRCA1 pathogenic; rs80357906; SCN1A p.Glu220Ter; chr17:43044295-43125483")
    p.add_argument("--mode", choices=MODES, default="hybrid",
                   help="hybrid (default): exact names become filters, the rest ranks by keywords and meaning; "
                        "keyword: keywords only; semantic: meaning only, nothing read exactly")  # fmt: skip
    p.add_argument("--explain", action="store_true", help="say how the query was read and why each row ranks")
    p.add_argument("--queries", metavar="FILE|-", help="one query a line; answers as JSON lines, in one process")
    p.add_argument("--vector", metavar="FILE|-", help="a JSON list of numbers instead of TEXT")
    p.add_argument("--filter", metavar="EXPR", help="e.g. \"clinical_significance LIKE 'Pathogenic%%' AND chrom = '17'\"")
    add_selection_options(p)
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--select", metavar="COLS", help="comma-separated columns")
    p.add_argument("--nprobes", type=int, help="index partitions probed (default 32; more: better recall, slower)")
    p.add_argument("--refine-factor", type=int, help="candidates re-ranked on exact vectors, x limit (default 20)")
    p.add_argument("--exact", action="store_true", help="exact vector search, ignoring the vector index")
