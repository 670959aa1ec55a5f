"""Sample commands: `samples load|list|show` (pedigrees) and the family questions that `graph` asks
(de-novo, autosomal-recessive, ...). Loading a PED is a write: it holds both stores' pools and is
audited like a curation."""

from __future__ import annotations

from vcf_pipeline.cli.options import (
    WRITE_WAIT_S,
    Refused,
    add_command,
    say,
    selection_of,
    settings_of,
)
from vcf_pipeline.cli.output import emit
from vcf_pipeline.cli.query import (
    open_stores,
    open_variant_store,
    parse_filter,
    variants_table,
)

_SAMPLE_COLUMNS = ["name", "family", "father", "mother", "sex", "phenotype", "files", "carried"]


def _load(args) -> int:
    from vcf_pipeline.cli.curate import curation
    from vcf_pipeline.lib.samples.pedigree import PedigreeError, read_ped
    from vcf_pipeline.lib.stores.pedigrees import store_pedigree

    settings = settings_of(args)
    with curation(settings, args) as done:  # audited, a refused file included
        try:
            people = read_ped(args.ped, args.namespace or "")
        except PedigreeError as exc:
            raise Refused(str(exc)) from None
        store, graph = open_stores(settings)
        changed = store_pedigree(store, graph, people, str(args.ped))
        done["rows"] = changed["people"]
    emit(args, {"ped": args.ped, **changed})
    return 0


def _list(args) -> int:
    from vcf_pipeline.lib.query.sample_details import list_samples

    _, graph = open_stores(settings_of(args))
    rows = list_samples(graph, args.family, args.wait)
    emit(args, {"family": args.family, "count": len(rows), "samples": rows}, rows, _SAMPLE_COLUMNS)
    return 0


def _show(args) -> int:
    from vcf_pipeline.lib.query.sample_details import sample_details

    _, graph = open_stores(settings_of(args))
    sample = sample_details(graph, args.name, args.wait)
    if sample is None:
        raise Refused(f"no sample {args.name!r} (vcf-pipeline samples list shows them)")
    if args.json:
        emit(args, sample)
    else:
        for key, value in sample.items():
            print(f"{key}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
    return 0


def ask_family(args) -> int:
    """`graph QUESTION FAMILY`: an inheritance question about one family (lib/query/family_queries)."""
    from vcf_pipeline.lib.query.family_queries import ask_family as ask
    from vcf_pipeline.lib.samples.inheritance import DEFAULT_MIN_GQ
    from vcf_pipeline.lib.search.selection import all_of, quoted
    from vcf_pipeline.lib.stores.pedigrees import family_of
    from vcf_pipeline.lib.stores.variant_tables import CALLS

    if len(args.args) != 1:
        raise Refused(f"{args.query} takes one argument: FAMILY")
    store = open_variant_store(settings_of(args))
    table = variants_table(store)
    try:
        members = family_of(store, args.args[0])
    except LookupError as exc:
        raise Refused(str(exc)) from None
    if CALLS not in store.table_names():
        raise Refused("no calls in this store: none of its files has samples")
    where = parse_filter(args.filter, table.schema)
    gene = f"gene_symbol = {quoted(args.gene)}" if args.gene else None
    min_gq = DEFAULT_MIN_GQ if args.min_gq is None else args.min_gq
    answer = ask(args.query, members, table, store.open_table(CALLS), all_of(where.sql if where else None, selection_of(args).sql(), gene), min_gq)
    rows = answer.rows.to_pylist()
    for trio in answer.per_trio:
        say(f"trio {trio['child']} ({trio['father']} x {trio['mother']}): {trio['errors']} Mendelian errors in {trio['sites_checked']} sites called in all three")
    emit(args, {"query": args.query, "family": args.args[0], "min_gq": min_gq, "per_trio": answer.per_trio, "count": len(rows), "rows": rows},
         rows, ["variant_id", "gene_symbol", "impact", "child", "note", "genotypes"])  # fmt: skip
    return 0


def add_commands(commands) -> None:
    group = commands.add_parser("samples", help="samples and pedigrees: load FILE.ped, list, show NAME", description="samples and pedigrees")
    actions = group.add_subparsers(dest="action", required=True)
    p = add_command(actions, "load", _load, "load a PED file (replaces the families it names)", json=True, wait_s=WRITE_WAIT_S)
    p.add_argument("ped", metavar="FILE.ped")
    p.add_argument("--namespace", help="prefix the PED's names (the sample_namespace of the source its files come from)")
    p = add_command(actions, "list", _list, "samples with their pedigree, files and variants carried", json=True, wait_s=30.0)
    p.add_argument("--family", help="only this family")
    p = add_command(actions, "show", _show, "one sample: pedigree, children, files, variants by impact", json=True, wait_s=30.0)
    p.add_argument("name")
