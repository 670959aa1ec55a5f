"""What the two stores of a home hold, read back for assertions (LanceDB and Kuzu side by side)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from vcf_pipeline.lib.stores.graph_store import GraphStore
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import CALLS, FILE_VARIANTS, VARIANTS
from vcf_pipeline_tests.conftest import expected_from_pysam


def _rows(table, *columns) -> list[tuple]:
    if table.num_rows == 0:
        return []
    return list(zip(*(table[c].to_pylist() for c in columns)))


class StoredView:
    def __init__(self, home: Path):
        lance = VariantStore(home / "lancedb")
        graph = GraphStore(home / "kuzu" / "graph.kuzu")
        variants = lance.read(VARIANTS, columns=["variant_id", "chrom", "pos", "ref", "alt"])
        self.variant_ids = [r[0] for r in _rows(variants, "variant_id")]
        self.loci = {r[0]: r[1:] for r in _rows(variants, "variant_id", "chrom", "pos", "ref", "alt")}
        self.owned = set(_rows(lance.read(FILE_VARIANTS), "partition_key", "variant_id"))
        # The carriers' calls: what the graph holds as CARRIES (a family's file keeps hom-ref and no-call rows too).
        carriers = "zygosity IN ('heterozygous', 'homozygous', 'hemizygous')"
        self.calls = set(_rows(lance.read(CALLS, columns=["partition_key", "sample", "variant_id"], where=carriers), "partition_key", "sample", "variant_id"))
        self.graph_variants = {r[0] for r in _rows(graph.query("MATCH (v:Variant) RETURN v.variant_id AS id"), "id")}
        self.graph_contains = set(
            _rows(graph.query("MATCH (f:VcfFile)-[:CONTAINS]->(v:Variant) RETURN f.partition_key AS pk, v.variant_id AS id"), "pk", "id")
        )
        self.graph_carries = set(
            _rows(
                graph.query("MATCH (s:Sample)-[r:CARRIES]->(v:Variant) RETURN r.partition_key AS pk, s.name AS s, v.variant_id AS id"),
                "pk", "s", "id",
            )
        )
        self.graph_files = {r[0] for r in _rows(graph.query("MATCH (f:VcfFile) RETURN f.partition_key AS pk"), "pk")}

    def partition_loci(self, key: str) -> set[tuple]:
        return {self.loci[v] for pk, v in self.owned if pk == key}

    def partition_calls(self, key: str) -> set[tuple]:
        return {(s, *self.loci[v]) for pk, s, v in self.calls if pk == key}

    def assert_consistent(self) -> None:
        """No duplicate variants, none that no file holds, and Kuzu holding what LanceDB holds."""
        duplicates = [v for v, n in Counter(self.variant_ids).items() if n > 1]
        assert not duplicates, f"duplicate variant rows: {duplicates[:5]}"
        unowned = set(self.variant_ids) - {v for _, v in self.owned}
        assert not unowned, f"variants no file holds: {sorted(unowned)[:5]}"
        assert self.graph_variants == set(self.variant_ids)
        assert self.graph_contains == self.owned
        assert self.graph_carries == self.calls
        assert {pk for pk, _ in self.owned} <= self.graph_files  # files without variants still have a node

    def assert_holds_exactly(self, key: str, path: Path) -> None:
        """The partition holds the variants and calls of `path`, as an independent pysam read sees them."""
        variants, calls = expected_from_pysam(path)
        assert self.partition_loci(key) == variants
        assert self.partition_calls(key) == calls

    def assert_absent(self, key: str) -> None:
        assert key not in self.graph_files
        assert not {v for pk, v in self.owned if pk == key}
        assert not {s for pk, s, _ in self.calls if pk == key}
