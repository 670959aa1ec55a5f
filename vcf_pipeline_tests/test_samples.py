"""Samples: cohort counts against a pysam count of the same files (also across three files and a
retraction), PED pedigrees, and the family questions on a family this test writes with known answers."""

from __future__ import annotations

import json

import dagster as dg
import pysam
import pytest

from vcf_pipeline.cli.main import main
from vcf_pipeline.definitions import defs
from vcf_pipeline.defs.ingest.retraction import retraction_run_config
from vcf_pipeline.instance.in_process_runs import ingest_paths
from vcf_pipeline.lib.samples.pedigree import PedigreeError, read_ped
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import FILE_VARIANTS, VARIANTS, sql_string
from vcf_pipeline.lib.watch.sources import Sources
from vcf_pipeline_tests.conftest import SHARED_VCF, store_alleles, store_contig

COHORT_FILES = ["cyvcf2__tests__test.vcf.gz", "vcfpy__vcfs_from_the_wild__gatk.vcf", "gatk__SelectVariants__gvcfExample.g.vcf"]


def pysam_counts(path) -> dict[tuple, dict]:
    """(chrom, pos, ref, alt) -> ac, an, n_called, n_het, n_hom_alt, n_hom_ref, n_no_call, counted
    from every sample's GT with pysam (the first record of a repeated variant counts)."""
    found: dict[tuple, dict] = {}
    with pysam.VariantFile(str(path)) as vcf:
        for rec in vcf:
            gts = [s["GT"] if "GT" in rec.format else None for s in rec.samples.values()]
            for i, alt in enumerate(rec.alts or ()):
                key = (store_contig(rec.chrom), *store_alleles(rec.pos, rec.ref, alt))
                if alt in ("<NON_REF>", "<*>", ".", "*") or key in found:
                    continue
                c = dict.fromkeys(("ac", "an", "n_called", "n_het", "n_hom_alt", "n_hom_ref", "n_no_call"), 0)
                for gt in gts:
                    called = [a for a in (gt or ()) if a is not None]
                    if not called:
                        c["n_no_call"] += 1
                        continue
                    c["n_called"] += 1
                    c["an"] += len(called)
                    c["ac"] += called.count(i + 1)
                    if set(called) == {0}:
                        c["n_hom_ref"] += 1
                    elif set(called) == {i + 1}:
                        c["n_hom_alt"] += 1
                    elif i + 1 in called:
                        c["n_het"] += 1
                found[key] = c
    return found


def _loci(store: VariantStore) -> dict[str, tuple]:
    rows = store.read(VARIANTS, ["variant_id", "chrom", "pos", "ref", "alt"]).to_pylist()
    return {r["variant_id"]: (r["chrom"], r["pos"], r["ref"], r["alt"]) for r in rows}


@pytest.mark.parametrize("name", COHORT_FILES)
def test_each_files_counts_equal_a_pysam_count(shared_home, name):
    home, summaries = shared_home
    store = VariantStore(home / "lancedb")
    loci = _loci(store)
    rows = store.read(FILE_VARIANTS, where=f"partition_key = {sql_string(summaries[name].partition_key)}").to_pylist()
    expected = pysam_counts(SHARED_VCF / name)
    got = {loci[r["variant_id"]]: {k: r[k] for k in expected[loci[r["variant_id"]]]} for r in rows}
    assert got == expected and len(got) > 0
    assert any(c["n_no_call"] for c in got.values()) or name != COHORT_FILES[0]  # no-calls are not taken for reference


def _write_vcf(path, samples: list[str], rows: list[tuple]) -> None:
    """rows: (pos, ref, alt, [GT per sample]) on chr1, GRCh38."""
    lines = ["##fileformat=VCFv4.2", "##reference=GRCh38", "##contig=<ID=chr1,length=248956422>",
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples)]  # fmt: skip
    lines += [f"chr1\t{pos}\t.\t{ref}\t{alt}\t50\tPASS\t.\tGT\t" + "\t".join(gts) for pos, ref, alt, gts in rows]
    path.write_text("\n".join(lines) + "\n")


def _cohort(store: VariantStore) -> dict[tuple, tuple]:
    loci = _loci(store)
    rows = store.read(VARIANTS, ["variant_id", "cohort_ac", "cohort_an", "cohort_af"]).to_pylist()
    return {loci[r["variant_id"]]: (r["cohort_ac"], r["cohort_an"], r["cohort_af"]) for r in rows}


def _summed(paths) -> dict[tuple, tuple]:
    total: dict[tuple, list] = {}
    for path in paths:
        for key, c in pysam_counts(path).items():
            total.setdefault(key, [0, 0])
            total[key][0] += c["ac"]
            total[key][1] += c["an"]
    return {k: (ac, an, round(ac / an, 6) if an else None) for k, (ac, an) in total.items()}


def test_store_wide_counts_follow_three_ingests_and_a_retraction(tmp_path):
    folder = tmp_path / "vcfs"
    folder.mkdir()
    files = [folder / f"batch{i}.vcf" for i in (1, 2, 3)]
    _write_vcf(files[0], ["A1", "A2"], [(100, "A", "G", ["0/1", "1/1"]), (200, "C", "T", ["0/0", "./."]), (300, "G", "A", ["0/1", "0/0"])])
    _write_vcf(files[1], ["B1", "B2", "B3"], [(100, "A", "G", ["0/0", "0/1", "./."]), (200, "C", "T", ["1/1", "0/1", "0/0"])])
    _write_vcf(files[2], ["C1"], [(100, "A", "G", ["./1"]), (400, "T", "C", ["0/1"])])
    summaries = ingest_paths(tmp_path / "home", files)
    assert all(s.ok for s in summaries), [s.error for s in summaries]
    store = VariantStore(tmp_path / "home" / "lancedb")
    assert _cohort(store) == _summed(files)
    # (100 A>G: 1+2 of A, 1 of B, 1 of C over 4 + 4 + 1 alleles) an oracle by hand beside pysam's:
    assert _cohort(store)[("chr1", 100, "A", "G")] == (5, 9, round(5 / 9, 6))
    keys = {s.path: s.partition_key for s in summaries}
    with dg.DagsterInstance.get() as instance:
        instance.delete_dynamic_partition("vcf_files", keys[files[1]])
        result = defs.resolve_job_def("retract_vcf_files").execute_in_process(run_config=retraction_run_config([keys[files[1]]]), instance=instance)
    assert result.success
    assert _cohort(store) == _summed([files[0], files[2]])


FAMILY_PED = """# family  individual  father  mother  sex  phenotype
FAM1 KID DAD MOM 1 2
FAM1\tDAD\t0\t0\t1\t1
FAM1 MOM 0 0 2 1
FAM1 SIB DAD MOM 2 1
FAM1 UNCLE 0 0 1 0
"""
MEMBERS = ["KID", "DAD", "MOM", "SIB"]
# pos: (ref, alt, gene, {sample: GT or (GT, GQ)}); GQ is 50 unless given.
SITES = {
    1000: ("A", "G", "GENEC", {"KID": "0/1", "DAD": "0/0", "MOM": "0/0", "SIB": "0/0"}),  # de novo
    2000: ("C", "T", "GENEC", {"KID": "0/1", "DAD": ("0/0", 10), "MOM": "0/0", "SIB": "0/0"}),  # father's call too poor
    3000: ("G", "A", "GENEC", {"KID": "1/1", "DAD": "0/1", "MOM": "0/1", "SIB": "0/1"}),  # recessive
    4000: ("T", "C", "GENEC", {"KID": "1/1", "DAD": "0/1", "MOM": "0/1", "SIB": "1/1"}),  # unaffected sister hom-alt too
    5000: ("A", "T", "GENEA", {"KID": "0/1", "DAD": "0/1", "MOM": "0/0", "SIB": "0/0"}),  # GENEA from father
    6000: ("C", "G", "GENEA", {"KID": "0/1", "DAD": "0/0", "MOM": "0/1", "SIB": "0/1"}),  # GENEA from mother
    7000: ("G", "C", "GENEB", {"KID": "0/1", "DAD": "0/1", "MOM": "0/0", "SIB": "0/0"}),  # GENEB: both from father
    8000: ("T", "A", "GENEB", {"KID": "0/1", "DAD": "0/1", "MOM": "0/0", "SIB": "0/0"}),
    9000: ("A", "C", "GENEC", {"KID": "1/1", "DAD": "0/0", "MOM": "0/1", "SIB": "0/1"}),  # Mendelian error, not de novo
    12000: ("G", "T", "GENEC", {"KID": "0/1", "DAD": "./.", "MOM": "0/0", "SIB": "0/0"}),  # father not called
    13000: ("C", "A", "GENEC", {"KID": "0/1", "DAD": "0/0", "MOM": "0/0", "SIB": "0/0"}),  # de novo
}
X_SITES = {
    10000: ("A", "G", "GENEX", {"KID": "1", "DAD": "0", "MOM": "0/1", "SIB": "0/0"}),  # X-linked recessive
    11000: ("C", "T", "GENEX", {"KID": "1", "DAD": "1", "MOM": "0/1", "SIB": "0/0"}),  # unaffected father carries
}


def _family_vcf(path) -> None:
    header = [
        "##fileformat=VCFv4.2", "##reference=GRCh38", "##contig=<ID=chr1,length=248956422>", "##contig=<ID=chrX,length=156040895>",
        '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: Allele|Consequence|IMPACT|SYMBOL|Gene">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">', '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(MEMBERS),
    ]  # fmt: skip
    lines = []
    for chrom, sites in (("chr1", SITES), ("chrX", X_SITES)):
        for pos, (ref, alt, gene, calls) in sites.items():
            cells = [f"{c[0]}:{c[1]}" if isinstance(c, tuple) else f"{c}:50" for c in (calls[m] for m in MEMBERS)]
            lines.append(f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t50\tPASS\tCSQ={alt}|missense_variant|MODERATE|{gene}|ENSG{pos}\tGT:GQ\t" + "\t".join(cells))
    path.write_text("\n".join(header + lines) + "\n")


@pytest.fixture(scope="module")
def family_home(tmp_path_factory):
    """A pedigree loaded before its family's file arrives, then the file ingested."""
    root = tmp_path_factory.mktemp("family")
    home = root / "home"
    (root / "fam1.ped").write_text(FAMILY_PED)
    assert main(["samples", "load", str(root / "fam1.ped"), "--home", str(home)]) == 0
    (root / "vcfs").mkdir()
    _family_vcf(root / "vcfs" / "fam1.vcf")
    assert all(s.ok for s in ingest_paths(home, [root / "vcfs" / "fam1.vcf"]))
    return home


def _ask(capsys, home, question, *argv) -> dict:
    assert main(["graph", question, "FAM1", *argv, "--home", str(home), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _positions(answer: dict, child: str | None = None) -> set[int]:
    return {r["pos"] for r in answer["rows"] if child is None or r["child"] == child}


def test_family_questions_find_exactly_the_known_sites(family_home, capsys):
    assert _positions(_ask(capsys, family_home, "de-novo"), "KID") == {1000, 13000}
    assert _positions(_ask(capsys, family_home, "de-novo"), "SIB") == set()
    assert _positions(_ask(capsys, family_home, "autosomal-recessive")) == {3000}
    assert _positions(_ask(capsys, family_home, "autosomal-dominant")) == {1000, 13000}
    assert _positions(_ask(capsys, family_home, "x-linked")) == {10000}
    comp = _ask(capsys, family_home, "compound-het")
    assert {(r["pos"], r["gene_symbol"], r["note"]) for r in comp["rows"]} == {(5000, "GENEA", "from father"), (6000, "GENEA", "from mother")}
    errors = _ask(capsys, family_home, "mendel-errors")
    assert _positions(errors, "KID") == {1000, 9000, 13000} and _positions(errors, "SIB") == set()
    by_child = {t["child"]: t for t in errors["per_trio"]}
    # KID's trio: every autosomal site but 2000 (father's GQ 10) and 12000 (father not called).
    assert by_child["KID"]["errors"] == 3 and by_child["KID"]["sites_checked"] == len(SITES) - 2
    assert by_child["SIB"]["errors"] == 0
    # A lower GQ bar lets the father's poor call count: 2000 becomes de novo.
    assert _positions(_ask(capsys, family_home, "de-novo", "--min-gq", "5"), "KID") == {1000, 2000, 13000}
    # Gene and filter narrow the answer; every row shows each member's genotype.
    only = _ask(capsys, family_home, "de-novo", "--filter", "pos > 5000")
    assert _positions(only) == {13000} and "DAD=0/0" in only["rows"][0]["genotypes"]
    assert _positions(_ask(capsys, family_home, "compound-het", "--gene", "GENEB")) == set()


def test_pedigree_samples_are_listed_shown_and_matched_to_their_file(family_home, capsys):
    assert main(["samples", "list", "--family", "FAM1", "--home", str(family_home), "--json"]) == 0
    listed = {s["name"]: s for s in json.loads(capsys.readouterr().out)["samples"]}
    assert set(listed) == {*MEMBERS, "UNCLE"}
    assert listed["KID"]["files"] == 1 and listed["UNCLE"]["files"] == 0  # named by the PED, in no file yet
    assert (listed["KID"]["sex"], listed["KID"]["phenotype"], listed["KID"]["father"]) == ("male", "affected", "DAD")
    assert main(["samples", "show", "DAD", "--home", str(family_home), "--json"]) == 0
    dad = json.loads(capsys.readouterr().out)
    assert dad["children"] == ["KID", "SIB"] and len(dad["files"]) == 1
    # The family's hom-ref calls can be asked for: the file has four samples, so they are kept.
    assert main(["genotypes", "--family", "FAM1", "--gt", "hom_ref", "--samples", "DAD", "--limit", "1000", "--home", str(family_home), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    expected = {p for sites in (SITES, X_SITES) for p, (_, _, _, calls) in sites.items() if calls["DAD"] in ("0/0", ("0/0", 10), "0")}
    assert {r["pos"] for r in rows} == expected and {r["sample"] for r in rows} == {"DAD"}


def test_a_reloaded_pedigree_replaces_its_family(family_home, capsys, tmp_path):
    (tmp_path / "again.ped").write_text("FAM1 KID DAD MOM 1 2\nFAM1 DAD 0 0 1 1\nFAM1 MOM 0 0 2 1\n")
    assert main(["samples", "load", str(tmp_path / "again.ped"), "--home", str(family_home), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["people"] == 3
    assert main(["samples", "list", "--family", "FAM1", "--home", str(family_home), "--json"]) == 0
    assert {s["name"] for s in json.loads(capsys.readouterr().out)["samples"]} == {"KID", "DAD", "MOM"}
    assert main(["samples", "show", "DAD", "--home", str(family_home), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["children"] == ["KID"]
    (tmp_path / "restore.ped").write_text(FAMILY_PED)
    assert main(["samples", "load", str(tmp_path / "restore.ped"), "--home", str(family_home)]) == 0


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("FAM1 KID DAD MOM 1\n", "line 1: 5 columns"),
        ("FAM1 KID 0 0 3 1\n", "line 1: sex '3'"),
        ("FAM1 KID 0 0 1 7\n", "line 1: phenotype '7'"),
        ("# header\nFAM1 KID 0 0 1 1\nFAM1 KID 0 0 1 1\n", "line 3: individual 'KID' is listed twice"),
        ("FAM1 KID DAD MOM 1 2\nFAM1 DAD 0 0 2 1\n", "'DAD' is 'KID''s father but their sex is female"),
        ("", "no individuals"),
    ],
)
def test_bad_ped_files_are_refused_with_the_file_and_line(tmp_path, capsys, text, words):
    path = tmp_path / "bad.ped"
    path.write_text(text)
    with pytest.raises(PedigreeError) as caught:
        read_ped(path)
    assert str(path) in str(caught.value) and words in str(caught.value)
    assert main(["samples", "load", str(path), "--home", str(tmp_path / "home")]) == 2
    assert words in capsys.readouterr().err


def test_a_namespace_prefixes_the_names_of_a_sources_samples_and_its_pedigree(tmp_path):
    (tmp_path / "lab1.ped").write_text("F KID DAD 0 1 2\n")
    people = read_ped(tmp_path / "lab1.ped", namespace="lab1")
    assert [(p.name, p.father) for p in people] == [("lab1:DAD", None), ("lab1:KID", "lab1:DAD")]
    sources = Sources.load(tmp_path, {"lab1": {"path": str(tmp_path), "sample_namespace": "lab1"}}, env="")
    assert sources.sample_namespace_for("lab1/x.vcf") == "lab1" or sources.sample_namespaces == {"lab1": "lab1"}
    with pytest.raises(ValueError, match="sample_namespace"):
        Sources.load(tmp_path, {"lab2": {"path": str(tmp_path), "sample_namespace": "lab 2"}}, env="")


def test_a_familys_calls_export_to_a_file_and_as_a_vcf(family_home, capsys, tmp_path):
    import pyarrow.parquet as pq

    assert main(["genotypes", "--family", "FAM1", "--gt", "carrier", "--out", str(tmp_path / "calls.parquet"), "--home", str(family_home), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)["rows"]
    table = pq.read_table(tmp_path / "calls.parquet")
    carriers = {(p, m) for sites in (SITES, X_SITES) for p, (_, _, _, calls) in sites.items() for m in MEMBERS
                if "1" in (calls[m][0] if isinstance(calls[m], tuple) else calls[m])}  # fmt: skip
    assert written == table.num_rows and set(zip(table["pos"].to_pylist(), table["sample"].to_pylist())) == carriers
    out = tmp_path / "fam1.vcf.gz"
    assert main(["export", "pos > 0", "--family", "FAM1", "--format", "vcf", "--out", str(out), "--home", str(family_home)]) == 0
    capsys.readouterr()
    vcf = pysam.VariantFile(str(out))
    assert sorted(vcf.header.samples) == sorted([*MEMBERS, "UNCLE"])
    for record in vcf:
        sites = SITES if record.chrom == "chr1" else X_SITES
        for member in MEMBERS:
            gt = sites[record.pos][3][member]
            gt = gt[0] if isinstance(gt, tuple) else gt
            assert "/".join("." if a is None else str(a) for a in record.samples[member]["GT"]) == gt.replace("|", "/")
        assert record.samples["UNCLE"]["GT"] == (None,) or record.samples["UNCLE"]["GT"] == (None, None)  # in no file: not known


def test_a_members_carrier_call_wins_over_reference_and_no_calls_from_other_files():
    import pyarrow as pa

    from vcf_pipeline.lib.samples.inheritance import HET, NOT_CALLED, REF, family_calls
    from vcf_pipeline.lib.samples.pedigree import Person

    members = [Person("KID", "F", "DAD", "MOM"), Person("DAD", "F"), Person("MOM", "F")]
    calls = pa.table({
        "variant_id": ["v1", "v1", "v1", "v1", "v2", "v2"],
        "sample": ["KID", "KID", "KID", "DAD", "DAD", "MOM"],
        "zygosity": ["homozygous_reference", "heterozygous", "no_call", "homozygous_reference", "no_call", "homozygous_reference"],
        "gq": pa.array([50, 50, None, 50, None, 5], pa.int32()),
        "gt": ["0/0", "0/1", "./.", "0/0", "./.", "0/0"],
    })  # fmt: skip
    found = family_calls(members, calls, {"v1": "chr1", "v2": "chr1"}, min_gq=20)
    state = {(v, m.name): found.states[found.ids.index(v), j] for v in found.ids for j, m in enumerate(members)}
    assert state[("v1", "KID")] == HET and found.genotypes[found.ids.index("v1"), 0] == "0/1"
    assert state[("v1", "DAD")] == REF and state[("v1", "MOM")] == NOT_CALLED
    assert state[("v2", "MOM")] == NOT_CALLED  # GQ 5 is below the bar
