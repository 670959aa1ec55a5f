"""The parser on the real shared VCFs, checked against a direct pysam read."""

import re

import pyarrow as pa
import pysam
import pytest

from vcf_pipeline.lib.vcf.identity import make_variant_id
from vcf_pipeline.lib.vcf.parsed import classify_variant
from vcf_pipeline.lib.vcf.reader import VcfFormatError, VcfReader
from vcf_pipeline_tests.conftest import (
    MALFORMED,
    SHARED_VCF,
    expected_from_pysam,
    expected_genotypes,
    readable_shared_files,
)

STATE = {"heterozygous": "carrier", "homozygous": "carrier", "hemizygous": "carrier", "homozygous_reference": "hom_ref", "no_call": "no_call"}


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
    got_calls = {(c["sample"], *by_id[c["variant_id"]], STATE[c["zygosity"]]) for c in calls.select(["sample", "variant_id", "zygosity"]).to_pylist()}
    assert got_calls == expected_genotypes(path)[1]
    assert calls.num_rows == len(got_calls)
    assert {c[:-1] for c in got_calls if c[-1] == "carrier"} == expected_calls


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
    assert make_variant_id("GRCh38", "chr1", 10, "A", "G") == "GRCh38:chr1-10-A-G"
    long = make_variant_id("GRCh37", "chr1", 10, "A" * 40, "A")
    assert re.fullmatch(r"GRCh37:chr1-10-40bp_[0-9a-f]{12}-A", long)


HTS_SPECS = SHARED_VCF.parent / "hts-specs"
_BASES = re.compile(r"[ACGTN]+", re.IGNORECASE)
_SYMBOLIC = re.compile(r"<[^<>\s,]+>")
_BREAKEND = re.compile(r"[ACGTN]*[\[\]][^\[\]\s]+:\d+[\[\]][ACGTN]*|\.[ACGTN]+|[ACGTN]+\.", re.IGNORECASE)


def follows_the_rules(row: dict) -> bool:
    """The test's own statement of a storable row (VCF 4.3 section 1.6.1), written apart from the code."""
    ref, alt = row["ref"], row["alt"]
    return (
        bool(row["chrom"]) and not any(c.isspace() for c in row["chrom"])
        and 1 <= row["pos"] < 2**31
        and bool(_BASES.fullmatch(ref))
        and bool(_BASES.fullmatch(alt) or _SYMBOLIC.fullmatch(alt) or _BREAKEND.fullmatch(alt))
        and alt.upper() != ref.upper()
    )


def conformance_cases(kind: str) -> list:
    cases = sorted((HTS_SPECS / kind).glob("*.vcf*"))
    if not cases:
        pytest.fail(f"the hts-specs conformance cases are missing: expected them in {HTS_SPECS / kind}")
    return cases


@pytest.mark.parametrize("path", conformance_cases("passed"), ids=lambda p: p.name)
def test_every_conformance_case_that_passes_the_specification_is_read(path):
    variants, _, stats = parse(path)  # header-only cases too
    assert stats.bad_records_skipped == 0
    assert all(follows_the_rules(row) for row in variants.select(["chrom", "pos", "ref", "alt"]).to_pylist())


@pytest.mark.parametrize("path", conformance_cases("failed"), ids=lambda p: p.name)
def test_every_failing_conformance_case_is_refused_with_its_reason_or_stores_only_valid_rows(path):
    try:
        variants, _, _ = parse(path)
    except VcfFormatError as exc:
        message = str(exc)
        assert path.name in message
        assert "unable to parse next record" not in message and "could not set" not in message, message
        return
    bad = [row for row in variants.select(["chrom", "pos", "ref", "alt"]).to_pylist() if not follows_the_rules(row)]
    assert not bad, bad


def _write(path, body_lines, header_extra=(), samples=()):
    header = ["##fileformat=VCFv4.2", "##contig=<ID=chr1,length=248956422>",
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">', *header_extra]
    columns = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"] + (["FORMAT", *samples] if samples else [])
    path.write_text("\n".join([*header, "\t".join(columns), *body_lines]) + "\n")
    return path


@pytest.mark.parametrize(
    "line,reason",
    [
        ("chr1\t100\t.\tA\tA T\t.\t.\t.", "ALT 'A T' is neither bases"),
        ("chr 1\t100\t.\tA\tG\t.\t.\t.", "CHROM 'chr 1' is not a valid contig name"),
        ("chr1\t100\t.\t.\tG\t.\t.\t.", "REF '.' is not a sequence"),
        ("chr1\t100\t.\tA\tA\t.\t.\t.", "ALT 'A' equals REF"),
        ("chr1\t100\t.\tZZZ\tA\t.\t.\t.", "REF 'ZZZ' is not a sequence"),
        ("chr1\t-5\t.\tA\tG\t.\t.\t.", "POS '-5' is not a position"),
        ("chr1\t100\t.\tA\tG\t.\t.", "7 tab-separated columns"),
    ],
)
def test_records_that_break_the_rules_are_refused_naming_the_record_or_skipped_and_counted(tmp_path, line, reason):
    good = "chr1\t50\t.\tC\tT\t.\t.\t."
    path = _write(tmp_path / "bad.vcf", [good, line, "chr1\t200\t.\tG\tGA\t.\t.\t."])
    with pytest.raises(VcfFormatError) as caught:
        parse(path)
    assert str(caught.value).startswith(f"{path}: record 2") and reason in str(caught.value), str(caught.value)

    if "tab-separated" in reason or "not a position" in reason:
        return  # lines htslib itself cannot read: the file fails whatever the policy
    with VcfReader(path, bad_records="skip") as reader:
        variants = pa.Table.from_batches([b.variants for b in reader.batches()])
    assert variants["pos"].to_pylist() == [50, 200]
    assert reader.stats.bad_records_skipped == 1 and reason in reader.stats.bad_record_examples[0]


def test_a_telomere_record_is_counted_not_stored(tmp_path):
    path = _write(tmp_path / "telomere.vcf", ["chr1\t0\t.\tN\tA\t.\t.\t.", "chr1\t10\t.\tC\tT\t.\t.\t."])
    variants, _, stats = parse(path)
    assert variants["pos"].to_pylist() == [10] and stats.telomere_records == 1


def test_a_plain_vcf_cut_mid_record_is_refused_as_truncated(tmp_path):
    text = (SHARED_VCF / "bcftools__test__split-vep.vcf").read_text()
    last_csq = text.rindex("CSQ=") + 60  # inside the last record's first transcript annotation
    cut = tmp_path / "cut.vcf"
    cut.write_text(text[:last_csq])
    with pytest.raises(VcfFormatError, match="file is truncated: its last line's CSQ entry has"):
        parse(cut)
    whole, _, _ = parse(SHARED_VCF / "bcftools__test__split-vep.vcf")
    with VcfReader(cut, bad_records="skip") as reader:
        kept = pa.Table.from_batches([b.variants for b in reader.batches()])
    assert reader.stats.bad_records_skipped == 1 and "was cut" in reader.stats.bad_record_examples[0]
    assert kept["variant_id"].to_pylist() == whole["variant_id"].to_pylist()[: kept.num_rows] and kept.num_rows < whole.num_rows

    # A last line without its line end that is whole (htslib's own test files have them) is read.
    unterminated = tmp_path / "unterminated.vcf"
    unterminated.write_text(text.rstrip("\n"))
    assert parse(unterminated)[0].num_rows == whole.num_rows


def test_a_bgzf_file_cut_short_or_damaged_is_refused_in_words(tmp_path):
    data = (SHARED_VCF / "cyvcf2__tests__test.vcf.gz").read_bytes()
    (tmp_path / "cut.vcf.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(VcfFormatError, match="truncated: the BGZF end-of-file block is missing"):
        parse(tmp_path / "cut.vcf.gz")
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    (tmp_path / "flipped.vcf.gz").write_bytes(bytes(flipped))
    with pytest.raises(VcfFormatError) as caught:
        parse(tmp_path / "flipped.vcf.gz")
    assert str(caught.value).startswith(str(tmp_path / "flipped.vcf.gz")) and "corrupt" in str(caught.value)


def test_header_faults_name_the_file_and_the_fault(tmp_path):
    text = (SHARED_VCF / "htslib__test__vcf44_1.vcf").read_bytes()
    second = text.index(b"\n##") + 1
    (tmp_path / "nul.vcf").write_bytes(text[:second] + b"##note=a\x00b\n" + text[second:])
    with pytest.raises(VcfFormatError, match=r"nul\.vcf: header line 2 holds a NUL byte"):
        parse(tmp_path / "nul.vcf")
    sample_line = text.index(b"#CHROM")
    header_end = text.index(b"\n", sample_line)
    (tmp_path / "utf8.vcf").write_bytes(text[:header_end] + b"\xff\xfe" + text[header_end:])  # a sample name
    with pytest.raises(VcfFormatError, match=r"utf8\.vcf: .*not valid UTF-8"):
        parse(tmp_path / "utf8.vcf")


def test_depths_in_fields_the_header_types_as_strings_are_read_leniently():
    path = HTS_SPECS / "passed" / "4.3__passed_body_alt.vcf"
    _, calls, _ = parse(path)
    with pysam.VariantFile(str(path)) as vcf:  # oracle: the raw values, as strings
        raw = {}
        for rec in vcf:
            for name, sample in rec.samples.items():
                # A file of few samples keeps every called sample's call, carrier or not.
                if "DP" in rec.format and sample["DP"] is not None and sample["GT"]:
                    raw.setdefault(str(sample["DP"]), 0)
    assert raw, "the case has DP values"
    parsed = {d for d in calls["dp"].to_pylist() if d is not None}
    assert parsed and parsed <= {int(float(v)) for v in raw}


def test_numbers_in_fields_typed_as_strings_are_parsed_when_they_are_numbers_and_dropped_when_not(tmp_path):
    path = _write(
        tmp_path / "typed.vcf",
        ["chr1\t10\t.\tA\tG\t.\t.\tAF=0.25\tGT:DP\t0/1:12", "chr1\t20\t.\tC\tT\t.\t.\tAF=abc\tGT:DP\t1/1:deep",
         "chr1\t30\t.\tG\tA\t.\t.\tAF=7\tGT:DP\t0/1:3.6"],
        header_extra=['##INFO=<ID=AF,Number=1,Type=String,Description="AF typed as String">',
                      '##FORMAT=<ID=DP,Number=1,Type=String,Description="Depth typed as String">'],
        samples=("S1",),
    )
    variants, calls, _ = parse(path)
    assert variants["allele_frequency"].to_pylist() == [0.25, None, None]  # 7 is no frequency
    assert calls["dp"].to_pylist() == [12, None, 4]
