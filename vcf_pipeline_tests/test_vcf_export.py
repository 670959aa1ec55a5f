"""`export --format vcf`: the selected variants and calls as a bgzipped, indexed VCF, checked by
reading it back with pysam and bcftools against the stored rows and the original file."""

from __future__ import annotations

import json

import pysam
import pysam.bcftools

from vcf_pipeline.cli.main import main
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import VARIANTS
from vcf_pipeline_tests.conftest import (
    SAMPLES,
    SHARED_VCF,
    expected_from_pysam,
    store_alleles,
    store_contig,
)


def _export(capsys, home, *argv) -> tuple[int, dict | str]:
    code = main(["export", *map(str, argv), "--home", str(home), "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else err


def test_a_gene_exports_as_a_vcf_that_bcftools_reads_with_the_family_calls(samples_home, capsys, tmp_path):
    home, _ = samples_home
    out = tmp_path / "scn1a.vcf.gz"
    code, result = _export(capsys, home, "gene_symbol = 'SCN1A'", "--format", "vcf", "--out", out, "--samples", "PROBAND,MOTHER,FATHER")
    assert code == 0, result
    stored = VariantStore(home / "lancedb").read(VARIANTS, ["variant_id", "chrom", "pos", "ref", "alt", "gene_symbol", "conditions"], "gene_symbol = 'SCN1A'")
    expected = sorted((r["chrom"], r["pos"], r["ref"], r["alt"]) for r in stored.to_pylist())
    assert result["rows"] == len(expected) > 0 and (tmp_path / "scn1a.vcf.gz.tbi").exists()

    records = list(pysam.VariantFile(str(out)))
    assert [(r.chrom, r.pos, r.ref, r.alts[0]) for r in records] == expected  # sorted, one ALT each
    assert len(pysam.bcftools.view("-H", str(out)).splitlines()) == len(expected)
    header = pysam.VariantFile(str(out)).header
    assert list(header.samples) == ["PROBAND", "MOTHER", "FATHER"] and header.contigs["chr2"].length == 242_193_529
    by_id = {r["variant_id"]: r for r in stored.to_pylist()}
    for record in records:
        row = by_id[record.info["VID"].replace("%3A", ":")]
        assert record.info["GENE"] == "SCN1A"
        if row["conditions"]:
            assert [c.replace("%2C", ",") for c in record.info["CLNDN"]] == row["conditions"]

    # Genotypes: the original file's, every sample's (a trio's file keeps hom-ref and no-call calls too).
    original = {(r.chrom, r.pos, r.ref, r.alts[0]): r for r in pysam.VariantFile(str(SAMPLES / "family_trio.vcf"))}
    checked = 0
    for record in records:
        source = original.get((record.chrom, record.pos, record.ref, record.alts[0]))
        if source is None:
            continue
        for sample in ("PROBAND", "MOTHER", "FATHER"):
            assert record.samples[sample]["GT"] == source.samples[sample]["GT"]
            assert record.samples[sample]["DP"] == source.samples[sample]["DP"]
            checked += 1
    assert checked > 0
    # The index answers a region.
    first = records[0]
    assert [r.pos for r in pysam.VariantFile(str(out)).fetch(first.chrom, first.pos - 1, first.pos)] == [first.pos]


def test_a_selection_of_several_builds_or_a_plain_name_is_refused(shared_home, capsys, tmp_path):
    home, _ = shared_home
    code, err = _export(capsys, home, "pos > 0", "--format", "vcf", "--out", tmp_path / "all.vcf.gz")
    assert code == 2 and "a VCF holds one build" in err and not (tmp_path / "all.vcf.gz").exists()
    code, err = _export(capsys, home, "assembly = 'GRCh37'", "--format", "vcf", "--out", tmp_path / "b37.vcf")
    assert code == 2 and "name it .vcf.gz" in err
    code, result = _export(capsys, home, "assembly = 'GRCh37'", "--region", "1:1-1000000", "--format", "vcf", "--out", tmp_path / "b37.vcf.gz")
    assert code == 0 and result["rows"] == len(pysam.bcftools.view("-H", str(tmp_path / "b37.vcf.gz")).splitlines()) > 0
    assert pysam.VariantFile(str(tmp_path / "b37.vcf.gz")).header.contigs["chr1"].length == 249250621


def test_a_real_multi_sample_file_round_trips_through_the_export(shared_home, capsys, tmp_path):
    """Every variant of the file, exported with every sample, read back with pysam: the same variants
    and, sample by sample, the same genotypes, depths and qualities as the original."""
    home, summaries = shared_home
    name = "vcfpy__vcfs_from_the_wild__gatk.vcf"
    original = pysam.VariantFile(str(SHARED_VCF / name))
    samples = list(original.header.samples)
    records = list(original)
    region = f"{records[0].chrom}:{min(r.pos for r in records)}-{max(r.stop for r in records)}"
    out = tmp_path / "gatk.vcf.gz"
    code, result = _export(capsys, home, "assembly = 'GRCh37'", "--region", region, "--format", "vcf", "--out", out, "--samples", ",".join(samples))
    assert code == 0, result
    exported = {(r.chrom, r.pos, r.ref, r.alts[0]): r for r in pysam.VariantFile(str(out))}
    expected, _ = expected_from_pysam(SHARED_VCF / name)
    assert expected <= set(exported)
    compared = 0
    for source in records:
        for i, alt in enumerate(source.alts):
            back = exported[(store_contig(source.chrom), *store_alleles(source.pos, source.ref, alt))]
            for sample in samples:
                want, got = source.samples[sample], back.samples[sample]
                assert got["GT"] == want["GT"] and got.phased == want.phased, (sample, source.pos)
                for field in ("DP", "GQ"):
                    if field in source.format and want[field] is not None:  # this file's GQ is a Float: stored rounded
                        assert got[field] == round(want[field])
                compared += 1
    assert compared == len(records) * len(samples)
    # bcftools opens the export and its index: a region query returns the same records.
    assert len(pysam.bcftools.view("-H", "-r", region.replace(records[0].chrom, store_contig(records[0].chrom)), str(out)).splitlines()) == len(exported)
