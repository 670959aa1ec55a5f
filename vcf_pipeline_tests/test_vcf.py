"""The parser on the real shared VCFs, checked against a direct pysam read."""

import pyarrow as pa
import pytest

from vcf_pipeline.lib.vcf import VcfFormatError, VcfReader, classify_variant, make_variant_id
from vcf_pipeline_tests.conftest import MALFORMED, SHARED_VCF, expected_from_pysam, readable_shared_files


def parse(path, batch_records=50_000):
    with VcfReader(path, batch_records) as reader:
        batches = list(reader.batches())
    variants = pa.Table.from_batches([b.variants for b in batches])
    calls = pa.Table.from_batches([b.calls for b in batches])
    return variants, calls, reader.stats


@pytest.mark.parametrize("path", readable_shared_files(), ids=lambda p: p.name)
def test_readable_files_give_exactly_the_split_variants_and_their_calls(path):
    variants, calls, stats = parse(path)
    expected_variants, expected_calls = expected_from_pysam(path)
    got = set(zip(*(variants[c].to_pylist() for c in ("chrom", "pos", "ref", "alt"))))
    assert got == expected_variants
    assert variants.num_rows == len(expected_variants)  # no duplicates
    by_id = {v["variant_id"]: (v["chrom"], v["pos"], v["ref"], v["alt"]) for v in variants.to_pylist()}
    got_calls = {(c["sample"], *by_id[c["variant_id"]]) for c in calls.select(["sample", "variant_id"]).to_pylist()}
    assert got_calls == expected_calls
    assert calls.num_rows == len(expected_calls)


@pytest.mark.parametrize("name,phrase", sorted(MALFORMED.items()))
def test_malformed_files_raise_an_error_naming_the_file_and_the_problem(name, phrase):
    with pytest.raises(VcfFormatError) as caught:
        parse(SHARED_VCF / name)
    message = str(caught.value)
    assert name in message and phrase in message


def test_multiallelic_site_is_split_and_genotypes_follow_their_allele():
    variants, calls, _ = parse(SHARED_VCF / "bcftools__test__many-alts.vcf")
    assert variants.num_rows == 34
    # A '33/34' genotype carries ALT 33 and ALT 34, each as a heterozygous call.
    carried = [c for c in calls.to_pylist() if c["gt"] in ("33/34", "34/33")]
    assert len(carried) == 2 and {c["zygosity"] for c in carried} == {"heterozygous"}


def test_gvcf_reference_blocks_are_counted_not_stored():
    variants, calls, stats = parse(SHARED_VCF / "gatk__SelectVariants__gvcfExample.g.vcf")
    assert stats.reference_blocks == 8 and stats.records == 12
    assert "<NON_REF>" not in variants["alt"].to_pylist()
    assert variants.num_rows == 4


def test_structural_variants_and_breakends_are_kept_with_type_and_end():
    variants, _, _ = parse(SHARED_VCF / "vcf2maf__tests__test_delly.vcf")
    types = set(variants["variant_type"].to_pylist())
    assert {"SV", "BND"} <= types
    deletions = [v for v in variants.to_pylist() if v["alt"] == "<DEL>"]
    assert deletions and all(v["end"] > v["pos"] for v in deletions)


def test_plain_gzip_and_bcf_files_are_read():
    assert parse(SHARED_VCF / "snpeff__vcf__long.vcf.gz")[2].records == 68
    assert parse(SHARED_VCF / "bio2zarr__vcf__1kg_2020_chr20_annotations.bcf")[2].records == 21


def test_small_batches_give_the_same_rows_as_one_batch():
    path = SHARED_VCF / "bcftools__test__split-vep.vcf"
    assert parse(path, batch_records=7)[0].equals(parse(path)[0])


def test_long_alleles_are_digested_in_ids_but_kept_whole_in_columns():
    variants, _, _ = parse(SHARED_VCF / "vcflib__samples__grch38#chr8_36353854-36453166.vcf")
    longest = max(variants.to_pylist(), key=lambda v: len(v["ref"]))
    assert len(longest["ref"]) > 10_000
    assert len(longest["variant_id"]) < 120
    assert max(len(i) for i in variants["variant_id"].to_pylist()) < 120


def test_per_sample_fields_are_read():
    _, calls, _ = parse(SHARED_VCF / "vcfpy__vcfs_from_the_wild__gatk.vcf")
    row = calls.to_pylist()[0]
    assert row["dp"] is not None and row["gq"] is not None and len(row["ad"]) == 2


@pytest.mark.parametrize(
    "ref,alt,kind",
    [("A", "G", "SNV"), ("AC", "GT", "MNV"), ("A", "AT", "INS"), ("AT", "A", "DEL"), ("AT", "GCC", "INDEL"),
     ("N", "<DEL>", "SV"), ("G", "G]17:198982]", "BND"), ("G", ".G", "BND")],
)
def test_variant_types(ref, alt, kind):
    assert classify_variant(ref, alt) == kind


def test_variant_id_format():
    assert make_variant_id("chr1", 10, "A", "G") == "chr1-10-A-G"
