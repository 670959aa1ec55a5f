"""Named, parameterised graph queries for the command line: user text is only ever bound as a
parameter, never formatted into Cypher."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vcf_pipeline.lib.stores.variant_lookup import VariantIdError, resolve_variant_id

if TYPE_CHECKING:  # the query names are listed by `--help`, which must not load Kuzu
    import pyarrow as pa

    from vcf_pipeline.lib.stores.graph_store import GraphStore


@dataclass(frozen=True)
class GraphQuery:
    params: tuple[str, ...]
    cypher: str
    help: str


_VARIANT_COLUMNS = "v.variant_id AS variant_id, v.assembly AS assembly, v.chrom AS chrom, v.pos AS pos, v.ref AS ref, v.alt AS alt"

QUERIES = {
    "variants-in-gene": GraphQuery(
        ("gene",),
        f"MATCH (v:Variant)-[r:IN_GENE]->(:Gene {{symbol: $gene}}) RETURN {_VARIANT_COLUMNS}, "
        "r.consequence AS consequence, v.clinical_significance AS clinical_significance ORDER BY chrom, pos, variant_id",
        "variants annotated to a gene symbol",
    ),
    "samples-with-variant": GraphQuery(
        ("variant_id",),
        "MATCH (s:Sample)-[c:CARRIES]->(:Variant {variant_id: $variant_id}) RETURN s.name AS sample, c.gt AS gt, "
        "c.zygosity AS zygosity, c.dp AS dp, c.gq AS gq, c.partition_key AS file ORDER BY sample, file",
        "samples carrying a variant, with their genotype",
    ),
    "genes-for-condition": GraphQuery(
        ("condition",),
        "MATCH (g:Gene)<-[:IN_GENE]-(v:Variant)-[:ASSOCIATED_WITH]->(c:Condition) WHERE lower(c.name) CONTAINS lower($condition) "
        "RETURN g.symbol AS gene, c.name AS condition, count(DISTINCT v) AS variants ORDER BY variants DESC, gene, condition",
        "genes with variants associated with a condition (case-insensitive substring)",
    ),
    "shared-variants": GraphQuery(
        ("sample_a", "sample_b"),
        f"MATCH (:Sample {{name: $sample_a}})-[:CARRIES]->(v:Variant)<-[:CARRIES]-(:Sample {{name: $sample_b}}) "
        f"RETURN DISTINCT {_VARIANT_COLUMNS} ORDER BY chrom, pos, variant_id",
        "variants two samples both carry",
    ),
    "carriers-of-significance": GraphQuery(
        ("significance",),
        "MATCH (s:Sample)-[c:CARRIES]->(v:Variant) WHERE lower(v.clinical_significance) CONTAINS lower($significance) "
        f"RETURN s.name AS sample, {_VARIANT_COLUMNS}, v.clinical_significance AS clinical_significance, c.gt AS gt "
        "ORDER BY sample, chrom, pos, variant_id",
        "samples carrying variants of a clinical significance (substring), optionally in one gene (--gene)",
    ),
}

_IN_GENE = (
    "MATCH (s:Sample)-[c:CARRIES]->(v:Variant)-[:IN_GENE]->(:Gene {symbol: $gene}) "
    "WHERE lower(v.clinical_significance) CONTAINS lower($significance) "
    f"RETURN s.name AS sample, {_VARIANT_COLUMNS}, v.clinical_significance AS clinical_significance, c.gt AS gt "
    "ORDER BY sample, chrom, pos, variant_id"
)


def _stored_ids(graph: GraphStore, ids: list[str], wait_s: float) -> list[str]:
    found = graph.query("MATCH (v:Variant) WHERE v.variant_id IN $ids RETURN v.variant_id AS id", {"ids": ids}, wait_s=wait_s)
    return found.column("id").to_pylist()


def run_graph_query(graph: GraphStore, name: str, args: list[str], gene: str | None = None, wait_s: float = 30.0) -> pa.Table:
    """Run a named query with its arguments bound as parameters (Kuzu opened read-only, waiting
    up to `wait_s` while a pipeline run writes)."""
    query = QUERIES[name]
    if len(args) != len(query.params):
        raise ValueError(f"{name} takes {len(query.params)} argument(s): {' '.join(p.upper() for p in query.params)}")
    params = dict(zip(query.params, args))
    if "variant_id" in params:  # given with or without its build, in either contig spelling
        try:
            params["variant_id"] = resolve_variant_id(params["variant_id"], lambda ids: _stored_ids(graph, ids, wait_s))
        except VariantIdError as exc:
            raise ValueError(str(exc)) from None
    cypher = query.cypher
    if gene is not None:
        if name != "carriers-of-significance":
            raise ValueError("--gene applies to carriers-of-significance only")
        cypher, params = _IN_GENE, {**params, "gene": gene}
    return graph.query(cypher, params, wait_s=wait_s)


def keep_variants(result: pa.Table, variant_ids: set[str], name: str) -> pa.Table:
    """The rows of a query's `result` whose variant is one of `variant_ids` (a region or gene
    selection); refused for a query whose rows are not variants."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if "variant_id" not in result.column_names:
        raise ValueError(f"--region, --regions and --genes apply to queries that return variants, not to {name}")
    return result.filter(pc.is_in(result["variant_id"], value_set=pa.array(sorted(variant_ids), pa.string())))
