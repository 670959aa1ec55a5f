"""Two files annotating one variant differently: the store shows the documented merge whatever the
order they came in, and retracting either leaves exactly what the other one alone gives."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from vcf_pipeline.definitions import defs
from vcf_pipeline.defs.ingest.retraction import retraction_run_config
from vcf_pipeline.instance.home import prepare_home
from vcf_pipeline.instance.in_process_runs import ingest_paths
from vcf_pipeline.lib.stores.graph_store import GraphStore
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import VARIANTS
from vcf_pipeline.lib.vcf.annotation_merge import RANK, merge
from vcf_pipeline_tests.stores import StoredView

SHARED = "GRCh38:chr1-1000-A-G"
COLUMNS = ["gene_symbol", "gene_id", "consequence", "impact", "hgvs_c", "hgvs_p", "clinical_significance",
           "clinvar_review_status", "conditions", "rsid", "allele_frequency", "description", "text_hash", "embedding"]

HEADER = "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=248956422>\n"
VEP = HEADER + (
    '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. '
    'Format: Allele|Consequence|IMPACT|SYMBOL|Gene|HGVSc|HGVSp|Existing_variation">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    "chr1\t1000\t.\tA\tG\t50\tPASS\tCSQ=G|missense_variant|MODERATE|GENEV|ENSG0001|ENST0001.1:c.10A>G|ENSP0001.1:p.Lys4Glu|rs111\n"
    "chr1\t2000\t.\tC\tT\t50\tPASS\tCSQ=T|synonymous_variant|LOW|GENEV|ENSG0001|ENST0001.1:c.20C>T||\n"
)
CLINVAR = HEADER + (
    '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Clinical significance">\n'
    '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="Review status">\n'
    '##INFO=<ID=CLNDN,Number=.,Type=String,Description="Disease names">\n'
    '##INFO=<ID=GENEINFO,Number=1,Type=String,Description="Gene symbol:id">\n'
    '##INFO=<ID=RS,Number=1,Type=String,Description="dbSNP id">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    "chr1\t1000\t.\tA\tG\t.\t.\tCLNSIG=Pathogenic;CLNREVSTAT=criteria_provided,_single_submitter;CLNDN=Disease_X;GENEINFO=GENEC:999;RS=222\n"
    "chr1\t3000\t.\tG\tA\t.\t.\tCLNSIG=Benign;CLNDN=not_provided;GENEINFO=GENEC:999\n"
)
# The rule (lib/annotation_merge.py), written out for the shared variant: the transcript annotation
# from the VEP file, the ClinVar assertion from the ClinVar file, the rsID from the VEP file (ranked first).
EXPECTED = {
    "gene_symbol": "GENEV", "gene_id": "ENSG0001", "consequence": "missense_variant", "impact": "MODERATE",
    "hgvs_c": "ENST0001.1:c.10A>G", "hgvs_p": "ENSP0001.1:p.Lys4Glu", "clinical_significance": "Pathogenic",
    "clinvar_review_status": "criteria provided, single submitter", "conditions": ["Disease X"], "rsid": "rs111",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("annotated")
    (folder / "vep.vcf").write_text(VEP)
    (folder / "clinvar.vcf").write_text(CLINVAR)
    return folder / "vep.vcf", folder / "clinvar.vcf"


def _ingest(home: Path, *paths: Path) -> dict[Path, str]:
    keys = {}
    for path in paths:  # one at a time: the order is the point
        [summary] = ingest_paths(home, [path])
        assert summary.ok, summary.error
        keys[path] = summary.partition_key
    return keys


def _row(home: Path, variant_id: str = SHARED) -> dict:
    """The variant's stored columns. Its vector is compared by cosine: the default int8 ONNX backend
    quantises activations per batch, so one text embedded beside other texts comes out at cosine
    0.99 to itself embedded alone (measured), and the one-file home embedded it in another batch."""
    [row] = VariantStore(home / "lancedb").read(VARIANTS, columns=COLUMNS, where=f"variant_id = '{variant_id}'").to_pylist()
    return {**row, "embedding": Same(row["embedding"])}


class Same:
    """A vector equal to another when their cosine similarity is at least 0.98 (the int8 backend's
    accepted fidelity; a different text's vector is far below it)."""

    def __init__(self, vector):
        self.vector = np.asarray(vector, dtype=np.float64)

    def __eq__(self, other) -> bool:
        a, b = self.vector, other.vector
        return a.shape == b.shape and float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) >= 0.98

    def __repr__(self) -> str:
        return f"vector({self.vector[:3].round(4).tolist()}...)"


def _graph(home: Path, variant_id: str = SHARED) -> dict:
    row = GraphStore(home / "kuzu" / "graph.kuzu").query(
        "MATCH (v:Variant {variant_id: $id}) OPTIONAL MATCH (v)-[:IN_GENE]->(g:Gene) OPTIONAL MATCH (v)-[:ASSOCIATED_WITH]->(c:Condition) "
        "RETURN v.clinical_significance AS sig, collect(DISTINCT g.symbol) AS genes, collect(DISTINCT c.name) AS conditions",
        {"id": variant_id},
    ).to_pylist()[0]
    return {k: v or [] if k != "sig" else v for k, v in row.items()}  # Kuzu collects nothing as null


def _retract(home: Path, key: str) -> None:
    prepare_home(home)  # this process's instance and stores: this home's
    with dg.DagsterInstance.get() as instance:
        instance.delete_dynamic_partition("vcf_files", key)
        result = defs.resolve_job_def("retract_vcf_files").execute_in_process(run_config=retraction_run_config([key]), instance=instance)
    assert result.success


def test_the_merge_follows_the_rule_in_either_order_and_a_retraction_returns_to_the_one_file_state(files, tmp_path):
    vep, clinvar = files
    only_vep, only_clinvar = tmp_path / "only_vep", tmp_path / "only_clinvar"
    _ingest(only_vep, vep)
    _ingest(only_clinvar, clinvar)
    assert _row(only_vep)["clinical_significance"] is None and _row(only_clinvar)["gene_symbol"] == "GENEC"

    vep_first, clinvar_first = tmp_path / "vep_first", tmp_path / "clinvar_first"
    keys_a = _ingest(vep_first, vep, clinvar)
    keys_b = _ingest(clinvar_first, clinvar, vep)
    for home in (vep_first, clinvar_first):
        row = _row(home)
        assert {k: row[k] for k in EXPECTED} == EXPECTED, home.name
        assert "GENEV" in row["description"] and "Pathogenic" in row["description"]
        assert _graph(home) == {"sig": "Pathogenic", "genes": ["GENEV"], "conditions": ["Disease X"]}
        StoredView(home).assert_consistent()
    assert _row(vep_first) == _row(clinvar_first)  # the order files came in changes nothing, vector included
    assert _row(vep_first, "GRCh38:chr1-2000-C-T") == _row(only_vep, "GRCh38:chr1-2000-C-T")  # unshared variants keep their own

    _retract(vep_first, keys_a[vep])
    assert _row(vep_first) == _row(only_clinvar)
    assert _graph(vep_first) == _graph(only_clinvar) == {"sig": "Pathogenic", "genes": ["GENEC"], "conditions": ["Disease X"]}
    _retract(clinvar_first, keys_b[clinvar])
    assert _row(clinvar_first) == _row(only_vep)
    assert _graph(clinvar_first) == _graph(only_vep) == {"sig": None, "genes": ["GENEV"], "conditions": []}
    for home in (vep_first, clinvar_first):
        StoredView(home).assert_consistent()


def test_a_changed_file_that_drops_a_shared_variant_hands_it_the_other_files_annotation(files, tmp_path):
    vep, clinvar = files
    home = tmp_path / "home"
    _ingest(home, vep, clinvar)
    changed = tmp_path / "vep_changed"
    changed.mkdir()
    (changed / "vep.vcf").write_text("\n".join(line for line in VEP.splitlines() if not line.startswith("chr1\t1000")) + "\n")
    only_clinvar = tmp_path / "only_clinvar"
    _ingest(only_clinvar, clinvar)
    # The VEP file changes in place (same partition), without the shared variant.
    (vep.parent / "vep.vcf").write_text((changed / "vep.vcf").read_text())
    try:
        _ingest(home, vep)
        assert _row(home) == _row(only_clinvar)
        assert _graph(home) == _graph(only_clinvar)
        StoredView(home).assert_consistent()
    finally:
        vep.write_text(VEP)


def test_merge_rule_orders_by_source_then_partition_key_never_by_arrival():
    rows = [
        {"partition_key": "b/x.vcf", RANK: 2, "gene_symbol": "OTHER", "clinical_significance": "Benign", "rsid": None, "qual": 10.0},
        {"partition_key": "a/y.vcf", RANK: 1, "gene_symbol": "SNPEFF", "clinical_significance": None, "rsid": "rs1", "qual": None},
        {"partition_key": "c/z.vcf", RANK: 1, "gene_symbol": "LATER", "clinical_significance": "Pathogenic", "rsid": "rs2", "qual": 5.0},
    ]
    for order in (rows, rows[::-1], rows[1:] + rows[:1]):
        merged = merge(order)
        assert (merged["gene_symbol"], merged["clinical_significance"], merged["rsid"], merged["qual"]) == ("SNPEFF", "Pathogenic", "rs1", 5.0)


def test_the_merge_of_many_variants_at_once_equals_the_merge_of_each():
    """`merge_columns` (a batch of variants, as a re-ingest merges them) against `merge`, the rule as
    written, on rows drawn at random: empty strings and lists, missing ranks and counts included."""
    import random

    import pyarrow as pa

    from vcf_pipeline.lib.vcf.annotation_merge import (
        FILE_VARIANTS_SCHEMA,
        merge_columns,
    )

    rng = random.Random(3)

    def value(field):
        if rng.random() < 0.3:
            return None
        if pa.types.is_string(field.type):
            return rng.choice(["", "a", "b", "c"])
        if pa.types.is_list(field.type):
            return rng.choice([[], ["x"], ["y", "z"]])
        if pa.types.is_floating(field.type):
            return rng.choice([0.1, 0.2, 0.5])
        return rng.randint(0, 5)

    rows = []
    for v in range(400):
        for key in rng.sample(["p1", "p2", "p3", "p4"], rng.randint(1, 4)):
            row = {f.name: value(f) for f in FILE_VARIANTS_SCHEMA}
            row.update(variant_id=f"v{v:03d}", partition_key=key, **{RANK: rng.choice([0, 1, 2, None])})
            row["ac"] = None if row["an"] is None else (row["ac"] or 0)  # a file has both counts or neither
            rows.append(row)
    rng.shuffle(rows)
    merged = {r.pop("variant_id"): r for r in merge_columns(pa.Table.from_pylist(rows, FILE_VARIANTS_SCHEMA)).to_pylist()}
    held: dict[str, list] = {}
    for row in rows:
        held.setdefault(row["variant_id"], []).append(row)
    assert sorted(merged) == sorted(held)
    for variant_id, its_rows in held.items():
        assert merged[variant_id] == merge(its_rows), variant_id


CALLS = HEADER + (
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
    "chr1\t4000\t.\tG\tC\t50\tPASS\t.\tGT\t0/1\n"
)


def _stored_as_the_rule_merges_them(home: Path) -> None:
    """Every stored variant shows what `merge`, the rule as written, makes of its files' rows."""
    from vcf_pipeline.lib.vcf.annotation_merge import ANNOTATION
    from vcf_pipeline.lib.vcf.cohort_counts import COHORT

    store = VariantStore(home / "lancedb")
    held: dict[str, list] = {}
    for row in store.read("file_variants").to_pylist():
        held.setdefault(row["variant_id"], []).append(row)
    stored = {r["variant_id"]: r for r in store.read(VARIANTS, columns=["variant_id", *ANNOTATION, *COHORT]).to_pylist()}
    assert sorted(stored) == sorted(held)
    for variant_id, rows in held.items():
        merged = merge(rows)
        assert {c: stored[variant_id][c] for c in merged} == merged, variant_id


def test_a_new_file_that_repeats_what_the_store_shows_reads_no_other_files_rows(files, tmp_path, monkeypatch):
    from vcf_pipeline.lib.stores.stored_rows import SharedRows

    vep, clinvar = files
    home = tmp_path / "home"
    _ingest(home, vep, clinvar)
    before = {v: _row(home, v) for v in (SHARED, "GRCh38:chr1-2000-C-T")}
    read = []
    looked_up = SharedRows.rows
    monkeypatch.setattr(SharedRows, "rows", lambda self, ids: read.extend(ids.to_pylist()) or looked_up(self, ids))
    copies = tmp_path / "copies"
    copies.mkdir()
    (copies / "vep.vcf").write_text(VEP)
    (copies / "clinvar.vcf").write_text(CLINVAR)
    _ingest(home, copies / "vep.vcf", copies / "clinvar.vcf")
    # chr1-2000 is stored as the VEP file says it: its copy needs no merge. The shared variant is
    # stored merged, unlike either file's own row: it is merged again, and comes out as it was.
    assert read == [SHARED, SHARED]
    assert {v: _row(home, v) for v in before} == before
    _stored_as_the_rule_merges_them(home)

    # A file with genotypes adds to the cohort counts: its copy is merged, though it repeats the row.
    (copies / "calls.vcf").write_text(CALLS)
    (copies / "calls_again.vcf").write_text(CALLS)
    _ingest(home, copies / "calls.vcf")
    read.clear()
    _ingest(home, copies / "calls_again.vcf")
    assert read == ["GRCh38:chr1-4000-G-C"]
    _stored_as_the_rule_merges_them(home)
    assert VariantStore(home / "lancedb").read(VARIANTS, ["cohort_an"], "variant_id = 'GRCh38:chr1-4000-G-C'")["cohort_an"].to_pylist() == [4]
    StoredView(home).assert_consistent()
