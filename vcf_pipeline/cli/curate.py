"""Write commands: add-variant, update-variant, delete-variants, create-index. Each holds both
stores' pools for its length (no pipeline step writes meanwhile) and leaves an audit line whatever
its outcome."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

from vcf_pipeline.cli.options import (
    WRITE_WAIT_S,
    Refused,
    add_command,
    say,
    settings_of,
)
from vcf_pipeline.cli.output import emit
from vcf_pipeline.cli.query import (
    open_stores,
    open_variant_store,
    parse_filter,
    variants_table,
)


@contextmanager
def curation(settings, args, columns: list[str] | None = None, filter_masked: str | None = None, pools=("lancedb", "kuzu")):
    """One curation write under `pools`, audited. Yields a dict whose "rows" the command sets."""
    import dagster as dg

    from vcf_pipeline.instance.home import prepare_home
    from vcf_pipeline.instance.pools import PoolBusy, holding_pools
    from vcf_pipeline.lib.stores.audit_log import append_audit
    from vcf_pipeline.lib.stores.curation import CurationError

    prepare_home(settings)
    done = {"rows": 0}
    outcome = "ok"
    try:
        with dg.DagsterInstance.get() as instance:
            with holding_pools(instance, args.command, args.wait, pools, report=say):
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
        rows = done["rows"] if outcome == "ok" else 0
        append_audit(settings.home, args.command, rows=rows, filter_masked=filter_masked, columns=columns, outcome=outcome)


def _curator(settings):
    from vcf_pipeline.lib.stores.curation import Curator

    store, graph = open_stores(settings)
    embedder = settings.embedder()
    return Curator(store, graph, embedder.encode, embedder.model_id)


def cmd_add_variant(args) -> int:
    settings = settings_of(args)
    fields = {k: v for k, v in {
        "gene_symbol": args.gene_symbol, "consequence": args.consequence, "impact": args.impact, "hgvs_c": args.hgvs_c,
        "hgvs_p": args.hgvs_p, "clinical_significance": args.clinical_significance, "rsid": args.rsid,
        "conditions": args.condition or None, "allele_frequency": args.allele_frequency,
    }.items() if v is not None}
    vector = json.loads(Path(args.embedding).read_text()) if args.embedding else None
    with curation(settings, args, columns=sorted(fields)) as done:
        row = _curator(settings).add(args.build, args.chrom, args.pos, args.ref, args.alt, fields, vector)
        done["rows"] = 1
    emit(args, {"variant_id": row["variant_id"], "description": row["description"], "embedding_model": row["embedding_model"]})
    return 0


def cmd_update_variant(args) -> int:
    settings = settings_of(args)
    try:
        changes = json.loads(args.set)
    except json.JSONDecodeError as exc:
        raise Refused(f"--set is not JSON: {exc}") from exc
    if not isinstance(changes, dict) or not changes:
        raise Refused('--set takes a JSON object of columns to values, e.g. \'{"clinical_significance": "Benign"}\'')
    with curation(settings, args, columns=sorted(changes)) as done:
        row, re_embedded = _curator(settings).update(args.variant_id, changes)
        done["rows"] = 1
    emit(args, {"variant_id": row["variant_id"], "changed": sorted(changes), "re_embedded": re_embedded, "description": row["description"]})
    return 0


def cmd_delete_variants(args) -> int:
    settings = settings_of(args)
    store = open_variant_store(settings)
    where = parse_filter(args.expr, variants_table(store).schema)
    curator = _curator(settings)
    ids = curator.matching(where.sql)
    if not ids:
        emit(args, {"filter": args.expr, "deleted": 0})
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise Refused(f"{len(ids)} variants match; pass --yes to delete them (no terminal to ask)")
        answer = input(f"delete {len(ids)} variants (with their calls and graph edges)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    with curation(settings, args, filter_masked=where.masked) as done:
        ids = curator.matching(where.sql)  # again, now that no run writes: what matches at the delete
        done["rows"] = curator.delete(ids) if ids else 0
    emit(args, {"filter": args.expr, "deleted": done["rows"]})
    return 0


def cmd_create_index(args) -> int:
    from vcf_pipeline.lib.stores.table_upkeep import IndexRefused, create_index

    settings = settings_of(args)
    store = open_variant_store(settings)
    try:
        table = store.open_table(args.table)
    except LookupError as exc:
        raise Refused(str(exc)) from None
    with curation(settings, args, columns=[args.column], pools=("lancedb",)) as done:
        try:
            details = create_index(table, args.column, args.type, args.partitions, args.sub_vectors)
        except IndexRefused as exc:
            raise Refused(str(exc)) from None
        done["rows"] = details["rows"]
    emit(args, details)
    return 0


def add_commands(commands) -> None:
    def command(name, handler, help):
        return add_command(commands, name, handler, help, json=True, wait_s=WRITE_WAIT_S)

    p = command("add-variant", cmd_add_variant, "add a variant (embedded from its description unless --embedding is given)")
    for name in ("chrom", "ref", "alt"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--pos", type=int, required=True)
    p.add_argument("--build", required=True, help="genome build of the coordinates: GRCh38, GRCh37, NCBI36, CHM13 (or hg38, b37 ...), or unknown")
    for name in ("gene-symbol", "consequence", "impact", "hgvs-c", "hgvs-p", "clinical-significance", "rsid"):
        p.add_argument(f"--{name}")
    p.add_argument("--condition", action="append", help="repeatable")
    p.add_argument("--allele-frequency", type=float)
    p.add_argument("--embedding", metavar="FILE", help="a JSON list of numbers")

    p = command("update-variant", cmd_update_variant, "change columns of one variant (re-embedded when its text changes)")
    p.add_argument("variant_id", help="GRCh38:chr1-925952-G-A, or without the build when one build holds it")
    p.add_argument("--set", required=True, metavar="JSON")

    p = command("delete-variants", cmd_delete_variants, "delete the variants matching a filter, from both stores")
    p.add_argument("expr", metavar="EXPR")
    p.add_argument("--yes", action="store_true", help="do not ask")

    p = command("create-index", cmd_create_index, "scalar (BTREE, BITMAP), vector (IVF_RQ, IVF_PQ, IVF_HNSW_SQ) or full-text (FTS, on keywords) index")
    p.add_argument("column")
    p.add_argument("--type", required=True, metavar="TYPE")
    p.add_argument("--table", default="variants")
    p.add_argument("--partitions", type=int, help="IVF partitions (default about sqrt(rows))")
    p.add_argument("--sub-vectors", type=int, help="PQ sub-vectors (default dimension/8)")
