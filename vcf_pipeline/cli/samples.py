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
from vcf_pipeline.cli.query import open_stores, parse_filter, variants_table

_SAMPLE_COLUMNS = ["name", "family", "father", "mother", "sex", "phenotype", "files", "carried"]


def _load(args) -> int:
    from vcf_pipeline.cli.curate import curation
    from vcf_pipeline.lib.samples.pedigree import PedigreeError, read_ped
    from vcf_pipeline.lib.stores.pedigrees import store_pedigree

    settings = settings_of(args)
    try:
        people = read_ped(args.ped, args.namespace or "")
    except PedigreeError as exc:
        raise Refused(str(exc)) from None
    with curation(settings, args) as done:
        store, graph = open_stores(settings)
        changed = store_pedigree(store, graph, people, str(args.ped))
        done["rows"] = changed["people"]
    emit(args, {"ped": args.ped, **changed})
    return 0


def _samples(settings, where: str = "", params: dict | None = None) -> list[dict]:
    _, graph = open_stores(settings)
    if not graph.path.exists():
        return []
    result = graph.query(
        f"MATCH (s:Sample) {where} "
        "OPTIONAL MATCH (s)-[:CALLED_IN]->(f:VcfFile) WITH s, count(f) AS files "
        "RETURN s.name AS name, s.family AS family, s.father AS father, s.mother AS mother, s.sex AS sex, s.phenotype AS phenotype, "
        "files, COUNT { MATCH (s)-[:CARRIES]->(:Variant) } AS carried ORDER BY family, name",
        params or {},
    )
    return result.to_pylist()


def _list(args) -> int:
    where, params = ("WHERE s.family = $family", {"family": args.family}) if args.family else ("", {})
    rows = _samples(settings_of(args), where, params)
    emit(args, {"family": args.family, "count": len(rows), "samples": rows}, rows, _SAMPLE_COLUMNS)
    return 0


def _show(args) -> int:
    settings = settings_of(args)
    found = _samples(settings, "WHERE s.name = $name", {"name": args.name})
    if not found:
        raise Refused(f"no sample {args.name!r} (vcf-pipeline samples list shows them)")
    _, graph = open_stores(settings)
    name = {"name": args.name}
    sample = found[0]
    sample["children"] = graph.query("MATCH (:Sample {name: $name})-[:PARENT_OF]->(c:Sample) RETURN c.name AS child ORDER BY child", name)["child"].to_pylist()
    sample["files"] = graph.query("MATCH (:Sample {name: $name})-[:CALLED_IN]->(f:VcfFile) RETURN f.partition_key AS file ORDER BY file", name)["file"].to_pylist()
    by_impact = graph.query(
        "MATCH (:Sample {name: $name})-[:CARRIES]->(v:Variant) OPTIONAL MATCH (v)-[g:IN_GENE]->(:Gene) "
        "RETURN coalesce(g.impact, 'none') AS impact, count(DISTINCT v) AS variants ORDER BY variants DESC", name,
    )
    sample["variants_by_impact"] = dict(zip(by_impact["impact"].to_pylist(), by_impact["variants"].to_pylist()))
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
    store, _ = open_stores(settings_of(args))
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
