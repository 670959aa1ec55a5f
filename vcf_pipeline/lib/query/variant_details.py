"""Everything the store knows of one variant, for the explorer's variant page: its row, the files
holding it (each with its own annotation and counts), every stored call, and its graph neighbours
(gene, conditions, other variants of the gene)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vcf_pipeline.lib.query.links import external_links
from vcf_pipeline.lib.stores.variant_tables import (
    CALLS,
    FILE_VARIANTS,
    VARIANTS,
    sql_string,
)

_HIDDEN = ("embedding", "keywords", "row_key", "text_hash")


@dataclass
class VariantDetails:
    row: dict
    files: list[dict] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    genes: list[dict] = field(default_factory=list)  # symbol, consequence, impact, variants in the gene
    conditions: list[dict] = field(default_factory=list)
    graph_note: str = ""  # why the graph part is missing, when it is


def variant_details(store, graph, variant_id: str, wait_s: float = 2.0) -> VariantDetails | None:
    """None when the store has no such variant."""
    where = f"variant_id = {sql_string(variant_id)}"
    found = store.read(VARIANTS, where=where, limit=1)
    if not found.num_rows:
        return None
    row = {k: v for k, v in found.to_pylist()[0].items() if k not in _HIDDEN}
    details = VariantDetails(row, links=external_links(row))
    if FILE_VARIANTS in store.table_names():
        details.files = sorted(store.read(FILE_VARIANTS, where=where).to_pylist(), key=lambda r: r["partition_key"])
    if CALLS in store.table_names():
        calls = store.read(CALLS, ["partition_key", "sample", "gt", "zygosity", "dp", "gq", "ad"], where).to_pylist()
        details.calls = sorted(calls, key=lambda c: (c["zygosity"] in ("homozygous_reference", "no_call"), c["sample"], c["partition_key"]))
    bound = {"id": variant_id}
    try:
        genes, conditions = graph.queries([
            ("MATCH (v:Variant {variant_id: $id})-[r:IN_GENE]->(g:Gene) OPTIONAL MATCH (g)<-[:IN_GENE]-(o:Variant) "
             "RETURN g.symbol AS symbol, r.consequence AS consequence, r.impact AS impact, count(o) AS variants", bound),
            ("MATCH (:Variant {variant_id: $id})-[r:ASSOCIATED_WITH]->(c:Condition) "
             "RETURN c.name AS name, r.significance AS significance ORDER BY name", bound),
        ], wait_s=wait_s)  # fmt: skip
        details.genes, details.conditions = genes.to_pylist(), conditions.to_pylist()
    except FileNotFoundError:
        details.graph_note = "no graph yet"
    except Exception as exc:  # a writer holding the graph: the page still shows LanceDB's part
        details.graph_note = f"graph not readable now ({type(exc).__name__}: {str(exc)[:120]})"
    return details
