"""Identity through the whole pipeline: one variant, one id, across contig spellings and never across
builds; the build a user sets wins and sticks; stores from before build-aware ids are refused and
rebuilt."""

from __future__ import annotations

import gzip

import kuzu
import lancedb
import pyarrow as pa

from vcf_pipeline.cli.main import main
from vcf_pipeline.instance.in_process_runs import ingest_paths
from vcf_pipeline.lib.stores.curation_log import (
    CURATIONS,
    DELETED,
    EDITED,
    new_curation,
)
from vcf_pipeline.lib.stores.curation_log import SCHEMA as CURATION_SCHEMA
from vcf_pipeline.lib.stores.graph_store import GraphStore
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import VARIANTS, variants_schema
from vcf_pipeline.lib.vcf.identity import make_variant_id
from vcf_pipeline_tests.conftest import SHARED_VCF, expected_from_pysam
from vcf_pipeline_tests.files import write_settings

CYVCF2 = SHARED_VCF / "cyvcf2__tests__test.vcf.gz"
CLINVAR = SHARED_VCF / "ensembl-vep__clinvar-testset__input.vcf.gz"


def ids(home) -> set[str]:
    return set(VariantStore(home / "lancedb").read(VARIANTS, ["variant_id"])["variant_id"].to_pylist())


def graph_variants(home) -> int:
    return GraphStore(home / "kuzu" / "graph.kuzu").count("(v:Variant)")


def rewritten(source, target, change):
    """A plain-text copy of a VCF with each line passed through `change`."""
    opener = gzip.open if source.name.endswith(".gz") else open
    with opener(source, "rt") as lines:
        target.write_text("".join(change(line) for line in lines))
    return target


def chr_spelled(line: str) -> str:
    if line.startswith("##contig=<ID="):
        return line.replace("##contig=<ID=", "##contig=<ID=chr", 1)
    return line if line.startswith("#") else "chr" + line


def test_contig_spellings_merge_and_builds_never_do(tmp_path):
    home, copies = tmp_path / "home", tmp_path / "copies"
    copies.mkdir()
    [first] = ingest_paths(home, [CYVCF2])
    assert first.ok, first.error
    alone = ids(home)
    assert alone == {make_variant_id("GRCh37", *k) for k in expected_from_pysam(CYVCF2)[0]}
    assert graph_variants(home) == len(alone)

    [again] = ingest_paths(home, [rewritten(CYVCF2, copies / "cyvcf2_chr.vcf", chr_spelled)])
    assert again.ok, again.error
    assert ids(home) == alone and again.metadata["embedded_new"] == 0  # the same variants, nothing new
    assert graph_variants(home) == len(alone)

    [clinvar] = ingest_paths(home, [CLINVAR])
    relabelled = rewritten(CLINVAR, copies / "clinvar_grch37.vcf", lambda line: line.replace("##reference=GRCh38", "##reference=GRCh37"))
    [copy] = ingest_paths(home, [relabelled])
    assert clinvar.ok and copy.ok, (clinvar.error, copy.error)
    clinvar_ids = [k for k in expected_from_pysam(CLINVAR)[0]]
    stored = ids(home) - alone
    assert stored == {make_variant_id(b, *k) for k in clinvar_ids for b in ("GRCh38", "GRCh37")}
    assert len(stored) == 2 * len(clinvar_ids)
    assert graph_variants(home) == len(ids(home))
    files = GraphStore(home / "kuzu" / "graph.kuzu").query("MATCH (f:VcfFile) RETURN f.path AS path, f.build AS build, f.build_evidence AS evidence")
    by_name = {row["path"].rsplit("/", 1)[1]: row for row in files.to_pylist()}
    assert by_name["clinvar_grch37.vcf"]["build"] == "GRCh37" and "##reference=GRCh37" in by_name["clinvar_grch37.vcf"]["evidence"]
    assert by_name[CLINVAR.name]["build"] == "GRCh38"


def test_a_sources_build_wins_over_the_header_and_ingest_build_sticks_to_its_file(tmp_path, capsys):
    home, lab = tmp_path / "home", tmp_path / "lab"
    lab.mkdir()
    conflicting = rewritten(CLINVAR, lab / "clinvar.vcf", lambda line: line.replace("##contig=<ID=1>", "##contig=<ID=1,length=249250621>"))
    [refused] = ingest_paths(home, [conflicting])
    assert not refused.ok and "##reference=GRCh38 -> GRCh38" in refused.error and "length 249250621 -> GRCh37" in refused.error

    assert main(["ingest", "--home", str(home), "--build", "GRCh38", str(conflicting)]) == 0
    assert {i.split(":")[0] for i in ids(home)} == {"GRCh38"}
    [again] = ingest_paths(home, [conflicting])  # a later run of the same file keeps the build it was given
    assert again.ok and again.metadata["build"] == "GRCh38" and "vcf-pipeline ingest --build" in again.metadata["build_evidence"]
    assert main(["ingest", "--home", str(home), "--build", "auto", str(conflicting)]) == 1  # the header decides again: refused
    assert "names two genome builds" in capsys.readouterr().out

    other = tmp_path / "home2"
    write_settings(other, {"sources": {"lab": {"path": str(lab), "build": "b37"}}})
    [by_source] = ingest_paths(other, [conflicting])
    assert by_source.ok and by_source.metadata["build"] == "GRCh37" and "`build:` of source 'lab'" in by_source.metadata["build_evidence"]
    assert {i.split(":")[0] for i in ids(other)} == {"GRCh37"}


def test_lookups_take_an_id_without_its_build_and_refuse_an_ambiguous_one(tmp_path, capsys):
    home, copies = tmp_path / "home", tmp_path / "copies"
    copies.mkdir()
    ingest_paths(home, [CLINVAR])
    [row] = VariantStore(home / "lancedb").read(VARIANTS, ["variant_id"], where="rsid = 'rs11691572'").to_pylist()
    bare = row["variant_id"].split(":", 1)[1].removeprefix("chr")  # `2-264985-G-T`: Ensembl spelling, no build
    assert main(["update-variant", "--home", str(home), bare, "--set", '{"clinical_significance": "Benign"}', "--json"]) == 0
    assert row["variant_id"] in capsys.readouterr().out
    ingest_paths(home, [rewritten(CLINVAR, copies / "clinvar_grch37.vcf", lambda line: line.replace("##reference=GRCh38", "##reference=GRCh37"))])
    assert main(["graph", "samples-with-variant", bare, "--home", str(home)]) == 2
    err = capsys.readouterr().err
    assert "2 genome builds" in err and row["variant_id"] in err and row["variant_id"].replace("GRCh38", "GRCh37") in err


def _write_old_home(home):
    """A home as the previous version wrote it: ids without a build, no `assembly` anywhere."""
    old_schema = pa.schema([f for f in variants_schema(4) if f.name != "assembly"])
    row = {f.name: None for f in old_schema} | {"variant_id": "1-925952-G-A", "chrom": "1", "pos": 925952, "ref": "G", "alt": "A",
                                                "embedding": [0.5, 0.5, 0.5, 0.5], "clinical_significance": "Benign"}
    db = lancedb.connect(str(home / "lancedb"))
    db.create_table(VARIANTS, pa.Table.from_pylist([row], old_schema))
    edited = new_curation("1-925952-G-A", EDITED, {"clinical_significance": "Likely benign (curated)"})
    gone = new_curation("2-264985-G-T", DELETED, {})  # a tombstone: its row is gone, its id is all there is
    db.create_table(CURATIONS, pa.Table.from_pylist([edited.row(), gone.row()], CURATION_SCHEMA))
    (home / "kuzu").mkdir(parents=True)
    db = kuzu.Database(str(home / "kuzu" / "graph.kuzu"))
    conn = kuzu.Connection(db)
    conn.execute("CREATE NODE TABLE Variant(variant_id STRING PRIMARY KEY, chrom STRING, pos INT64, ref STRING, alt STRING, variant_type STRING, clinical_significance STRING)")
    conn.execute("CREATE (:Variant {variant_id: '1-925952-G-A', chrom: '1', pos: 925952, ref: 'G', alt: 'A'})")
    conn.close()
    db.close()


def test_a_store_from_the_previous_version_is_refused_then_rebuilt(tmp_path, capsys):
    home, incoming = tmp_path / "home", tmp_path / "home" / "incoming"
    incoming.mkdir(parents=True)
    _write_old_home(home)
    [refused] = ingest_paths(home, [CLINVAR])
    assert not refused.ok and "earlier version" in refused.error and "vcf-pipeline rebuild" in refused.error
    assert main(["filter", "pos > 0", "--home", str(home)]) == 2
    assert "vcf-pipeline rebuild" in capsys.readouterr().err
    assert lancedb.connect(str(home / "lancedb")).open_table(VARIANTS).count_rows() == 1  # nothing mixed in

    assert main(["rebuild", "--home", str(home)]) == 0
    out = capsys.readouterr().out
    assert "old stores moved to" in out and "1 files ingested, 0 failed; 2 curations carried over" in out
    expected = {make_variant_id("GRCh38", *k) for k in expected_from_pysam(CLINVAR)[0]} - {"GRCh38:chr2-264985-G-T"}
    assert ids(home) == expected and graph_variants(home) == len(expected)
    [curated] = VariantStore(home / "lancedb").read(VARIANTS, ["clinical_significance"], where="variant_id = 'GRCh38:chr1-925952-G-A'").to_pylist()
    assert curated["clinical_significance"] == "Likely benign (curated)"
    [retired] = (home / "retired").iterdir()
    assert lancedb.connect(str(retired / "lancedb")).open_table(VARIANTS).count_rows() == 1  # the old store, kept whole
