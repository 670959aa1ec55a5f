"""The column-wise reading of sites-only VCF text (lib/vcf/text_columns.py) against the record-by-record
reader, its oracle: the same rows, field for field, the same counts, or the same error, on every
shared VCF and hts-specs conformance case, and on a file written to hold every case the fast path
treats apart (indels, lower case, multi-ALT annotation, escapes, repeats across batches, bad records,
a FASTA)."""

from __future__ import annotations

import dataclasses
import math

import pyarrow as pa
import pytest

from vcf_pipeline.lib.vcf.faults import VcfFormatError
from vcf_pipeline.lib.vcf.identity import IdentityOptions
from vcf_pipeline.lib.vcf.reader import VcfReader
from vcf_pipeline_tests.conftest import SHARED_VCF, shared_vcf_files

HTS_SPECS = SHARED_VCF.parent / "hts-specs"
# Files of the corpus that the column-wise reader must take (not fall back on): sites only, and with samples.
COLUMNAR = {
    "cyvcf2__tests__test.vcf.gz",
    "gatk__SelectVariants__gvcfExample.g.vcf",
    "bcftools__test__many-alts.vcf",
    "htslib__test__vcf44_1.vcf",
    "ensembl-vep__clinvar-testset__input.vcf.gz",
    "bcftools__test__split-vep.vcf",
    "htsjdk__variant__dbsnp_135.b37.1000.vcf",
    "pysam__cbcf_data__gnomad.vcf",
}


def read(path, columnar: bool, **options):
    """(variant rows and call rows, stats, why read record by record) or (None, error message, None)."""
    try:
        with VcfReader(path, columnar=columnar, **options) as reader:
            batches = list(reader.batches())
            rows = pa.Table.from_batches([b.variants for b in batches]).to_pylist()
            # calls are compared as a set: a repeat's merged rows may come in another place
            calls = sorted(pa.Table.from_batches([b.calls for b in batches]).to_pylist(), key=lambda c: (c["variant_id"], c["sample"]))
            stats = dataclasses.asdict(reader.stats)
            assert stats.pop("reading") == ("column-wise" if reader.record_by_record is None else f"record by record: {reader.record_by_record}")
            return rows + calls, stats, reader.record_by_record
    except VcfFormatError as exc:
        return None, str(exc), None


def same_value(a, b) -> bool:
    return (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or a == b


def assert_same_reading(path, **options):
    expected_rows, expected_stats, _ = read(path, False, **options)
    rows, stats, why = read(path, True, **options)
    assert stats == expected_stats
    if expected_rows is None:
        assert rows is None
        return why
    assert len(rows) == len(expected_rows)
    for row, expected in zip(rows, expected_rows):
        different = {k: (row[k], expected[k]) for k in expected if not same_value(row[k], expected[k])}
        assert not different, f"{row['variant_id']} {row.get('sample', '')}: column-wise, record-by-record: {different}"
    return why


def corpus() -> list:
    cases = sorted(HTS_SPECS.glob("*/*.vcf*"))
    assert cases, f"the hts-specs conformance cases are missing: expected them in {HTS_SPECS}"
    return shared_vcf_files() + cases


@pytest.mark.parametrize("path", corpus(), ids=lambda p: p.name)
def test_column_wise_reading_equals_record_by_record(path):
    why = assert_same_reading(path, batch_records=40)  # small batches: repeats cross batch boundaries
    if path.name in COLUMNAR:
        assert why is None


HEADER = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=2000>
##INFO=<ID=END,Number=1,Type=Integer,Description="End">
##INFO=<ID=AF,Number=A,Type=Float,Description="AF">
##INFO=<ID=CLNSIG,Number=.,Type=String,Description="ClinVar">
##INFO=<ID=CLNDN,Number=.,Type=String,Description="ClinVar">
##INFO=<ID=GENEINFO,Number=1,Type=String,Description="ClinVar gene">
##INFO=<ID=MC,Number=.,Type=String,Description="ClinVar consequence">
##INFO=<ID=RS,Number=.,Type=String,Description="dbSNP">
##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: Allele|Consequence|IMPACT|SYMBOL|Gene|HGVSc|HGVSp|CANONICAL|MANE_SELECT|ALLELE_NUM|Existing_variation|gnomADe_AF">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO
"""
RECORDS = [
    # multi-ALT, entries chosen by ALLELE_NUM; MANE beats severity; Number=A AF with a missing value
    "chr1\t10\trs1;x\tC\tT,G\t29.3\tq10;s50\tAF=0.25,.;CSQ=T|missense_variant|MODERATE|GA|G1|c.1C>T|p.A1V|||1||,"
    "T|stop_gained|HIGH|GB|G2|c.9C>T|p.Q3*|YES|NM_1|1||,G|synonymous_variant|LOW|GA|G1|c.1C>G|p.%3D|||2|rs9&rs10|0.5",
    # an indel VEP names by its trimmed allele; an escaped HGVS; ClinVar text with placeholders
    "chr1\t20\t.\tCA\tC\t1234.567\tPASS\tCLNSIG=Likely_pathogenic,_low_penetrance;CLNDN=not_provided|Rett_syndrome;"
    "CSQ=-|frameshift_variant|HIGH|GC|G3|c.2del|p.Lys1fs%3B|YES||||2e-3&0.1",
    # lower case MNV that trims to an SNV; no annotation but GENEINFO, MC and RS
    "chr1\t30\t.\tacg\tatg\t.\t.\tGENEINFO=GD:44|GE:45;MC=SO:0001583|missense_variant,SO:0001587|stop_gained;RS=123",
    # a symbolic deletion with END, and a reference block, a star allele, a telomere
    "chr1\t40\t.\tA\t<DEL>\t50\tPASS\tEND=90",
    "chr1\t45\t.\tA\t<NON_REF>\t.\t.\t.",
    "chr1\t46\t.\tA\tC,*\t.\t.\tAF=1.5,0.1",
    "chr1\t0\t.\tN\tA\t.\t.\t.",
    # a repeat of the first record's G allele, written unnormalised; an ALT equal to REF (a bad record)
    "chr1\t10\t.\tCAA\tGAA\t.\t.\tAF=0.3",
    "chr1\t50\t.\tA\ta\t.\t.\t.",
    # a left-alignable insertion (with a FASTA: moved left) and a breakend
    "chr1\t64\t.\tT\tTT\t.\t.\tAF=3e-1",
    "chr1\t70\tbnd1\tG\tG]chr1:100]\t.\t.\t.",
]


@pytest.fixture
def cases_vcf(tmp_path):
    path = tmp_path / "cases.vcf"
    path.write_text(HEADER + "\n".join(RECORDS) + "\n")
    return path


@pytest.mark.parametrize("batch_records", [1, 3, 1000])
def test_every_case_reads_the_same_both_ways(cases_vcf, batch_records):
    assert assert_same_reading(cases_vcf, batch_records=batch_records, bad_records="skip") is None
    # refused: the bad record fails the file, with the same words both ways
    rows, message, _ = read(cases_vcf, True, batch_records=batch_records)
    assert rows is None and "record 9 at chr1:50" in message and "equals REF" in message


def test_the_cases_file_holds_what_it_was_written_with(cases_vcf):
    """Known answers, so that the comparison above compares something."""
    rows, stats, why = read(cases_vcf, True, bad_records="skip")
    assert why is None
    by_id = {r["variant_id"]: r for r in rows}
    first = by_id["unknown:chr1-10-C-T"]
    assert (first["gene_symbol"], first["consequence"], first["allele_frequency"], first["rsid"]) == ("GB", "stop_gained", 0.25, "rs1")
    second = by_id["unknown:chr1-10-C-G"]
    # the ID's rsID is the record's; INFO AF has none for this ALT, so its transcript's gnomAD AF
    assert (second["hgvs_p"], second["rsid"], second["allele_frequency"]) == ("p.=", "rs1", 0.5)
    deletion = by_id["unknown:chr1-20-CA-C"]
    assert deletion["hgvs_p"] == "p.Lys1fs;" and deletion["conditions"] == ["Rett syndrome"]
    mnv = by_id["unknown:chr1-31-C-T"]
    assert (mnv["gene_symbol"], mnv["gene_id"], mnv["consequence"], mnv["rsid"]) == ("GD", "44", "stop_gained", "rs123")
    assert by_id["unknown:chr1-40-A-<DEL>"]["end"] == 90
    assert by_id["unknown:chr1-46-A-C"]["allele_frequency"] is None  # 1.5 is no frequency
    assert (stats["records"], stats["reference_blocks"], stats["star_alleles"], stats["telomere_records"]) == (11, 1, 1, 1)
    assert (stats["duplicate_variants"], stats["bad_records_skipped"]) == (1, 1)


FREQUENCY_RECORDS = [  # allele frequencies Arrow cannot cast: read by Python, as the record reader does
    "chr1\t80\t.\tG\tA\t.\t.\tAF=inf;CSQ=A|missense_variant|MODERATE|GF|G6|||||||0.5",  # INFO AF decides: no frequency
    "chr1\t81\t.\tG\tA\t.\t.\tCSQ=A|missense_variant|MODERATE|GF|G6|||||||1e-2&x",
    "chr1\t82\t.\tG\tA\t.\t.\tCSQ=A|missense_variant|MODERATE|GF|G6||||||| 0.25",
    "chr1\t83\t.\tG\tA\t.\t.\tCSQ=A|missense_variant|MODERATE|GF|G6|||||||x",
    "chr1\t84\t.\tG\tA\t.\t.\tAF= 0.5;CSQ=A|missense_variant|MODERATE|GF|G6|||||||0.1",
    "chr1\t85\t.\tG\tA\t.\t.\tAF=nan,0.2;CSQ=A|missense_variant|MODERATE|GF|G6|||||||1_0",
]


@pytest.mark.parametrize("batch_records", [1, 1000])
def test_odd_frequencies_read_the_same_both_ways(tmp_path, batch_records):
    path = tmp_path / "frequencies.vcf"
    path.write_text(HEADER + "\n".join(FREQUENCY_RECORDS) + "\n")
    assert assert_same_reading(path, batch_records=batch_records) is None
    rows, _, _ = read(path, True, batch_records=batch_records)
    found = {r["pos"]: r["allele_frequency"] for r in rows}
    assert (found[80], found[81], found[82], found[83]) == (None, 0.01, 0.25, None)


def test_indels_their_vep_allele_and_kind(tmp_path):
    """A one-ALT indel's entries are those naming VEP's allele (the shared first base trimmed, `-`
    when nothing is left), not a more severe entry naming another allele; each indel has its kind."""
    path = tmp_path / "indels.vcf"
    path.write_text(HEADER + "\n".join([
        "chr1\t20\t.\tCA\tC\t.\t.\tCSQ=T|stop_gained|HIGH|GY|G8||||||,-|intron_variant|MODIFIER|GX|G7||||||",
        "chr1\t30\t.\tC\tCAG\t.\t.\tCSQ=T|stop_gained|HIGH|GY|G8||||||,AG|intron_variant|MODIFIER|GX|G7||||||",
        "chr1\t40\t.\tAC\tGT\t.\t.\tCSQ=GT|intron_variant|MODIFIER|GX|G7||||||",
        "chr1\t50\t.\tAC\tG\t.\t.\t.",
        "chr1\t60\t.\tA\tGC\t.\t.\t.",
    ]) + "\n")
    assert assert_same_reading(path) is None
    rows, _, _ = read(path, True)
    assert [r["gene_symbol"] for r in rows[:3]] == ["GX", "GX", "GX"]
    assert [r["variant_type"] for r in rows] == ["DEL", "INS", "MNV", "INDEL", "INDEL"]


def test_left_alignment_against_a_fasta_reads_the_same_both_ways(cases_vcf, tmp_path):
    bases = ["A"] * 2000
    for pos, written in [(10, "CAA"), (20, "CA"), (30, "ACG"), (59, "GTTTTT"), (70, "G")]:
        bases[pos - 1 : pos - 1 + len(written)] = written  # each record's REF; a run of T ends at 64
    sequence = "".join(bases)
    fasta = tmp_path / "ref.fa"
    fasta.write_text(">chr1\n" + "\n".join(sequence[i : i + 60] for i in range(0, len(sequence), 60)) + "\n")
    options = IdentityOptions(build="GRCh38", reference=fasta)
    assert assert_same_reading(cases_vcf, bad_records="skip", identity=options) is None
    rows, stats, _ = read(cases_vcf, True, bad_records="skip", identity=options)
    assert stats["identity"]["ref_checked"] > 0 and stats["identity"]["ref_mismatches"] == 0
    assert "GRCh38:chr1-59-G-GT" in {r["variant_id"] for r in rows}  # the insertion, moved left


COHORT_HEADER = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=2000>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Quality">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allele depths">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3
"""
COHORT_RECORDS = [
    "chr1\t10\t.\tC\tT,G\t.\t.\t.\tGT:DP:GQ:AD\t0/1:20:99:10,10,0\t1|2:.:50:3,.,4\t./.:.:.:.",
    "chr1\t10\t.\tCA\tTA\t.\t.\t.\tGT:DP\t0/0:8\t0/0:9\t1/1:30",  # repeats chr1-10-C-T: S3 becomes a carrier
    "chr1\t20\t.\tA\tG\t.\t.\t.\tGT:AD\t1:0,7\t0/0:9,0\t.",  # haploid carrier, no DP or GQ in FORMAT
    "chr1\t30\t.\tA\tC\t.\t.\t.\tDP\t5\t6\t7",  # no GT: no sample is called
    "chr1\t40\t.\tG\tA,T\t.\t.\t.\tGT:GQ\t2/2:40\t0|1:12\t1/2:33",
]


@pytest.mark.parametrize("keep_all", [32, 1])
@pytest.mark.parametrize("batch_records", [1, 2, 1000])
def test_calls_and_counts_read_the_same_both_ways(tmp_path, batch_records, keep_all):
    from vcf_pipeline.lib.vcf.calls import SampleOptions

    path = tmp_path / "cohort.vcf"
    path.write_text(COHORT_HEADER + "\n".join(COHORT_RECORDS) + "\n")
    options = {"batch_records": batch_records, "samples": SampleOptions(keep_all_calls_up_to=keep_all)}
    assert assert_same_reading(path, **options) is None
    rows, stats, _ = read(path, True, **options)
    variants = {r["variant_id"]: r for r in rows if "sample" not in r}
    calls = {(r["variant_id"], r["sample"]): r for r in rows if "sample" in r}
    t = variants["unknown:chr1-10-C-T"]  # counts are the first record's; the repeat only merges calls
    assert (t["ac"], t["an"], t["n_called"], t["n_het"], t["n_no_call"]) == (2, 4, 2, 2, 1)
    assert calls[("unknown:chr1-10-C-T", "S3")]["zygosity"] == "homozygous"  # from the repeat
    assert calls[("unknown:chr1-10-C-G", "S2")] == {
        "sample": "S2", "variant_id": "unknown:chr1-10-C-G", "gt": "1|2", "zygosity": "heterozygous", "dp": None, "gq": 50, "ad": [3, 4]}
    assert calls[("unknown:chr1-20-A-G", "S1")]["zygosity"] == "hemizygous"
    assert not any(k[0] == "unknown:chr1-30-A-C" for k in calls)
    assert variants["unknown:chr1-30-A-C"]["n_no_call"] == 3
    assert (("unknown:chr1-20-A-G", "S2") in calls) == (keep_all == 32)  # hom-ref rows only for small files
    assert stats["duplicate_variants"] == 1


@pytest.mark.parametrize("bad", [
    "chr1\t50\t.\tA\tC\t.\t.\t.\tGT:DP\t0/1:x\t0/0:4\t1/1:3",  # a DP htslib cannot read: the genotype query fails
    "chr1\t50\t.\tA\tC\t.\t.\t.\tGT:DP:GT\t0/1:3:0/1\t0/0:4:0/0\t1/1:3:1/1",  # a key twice: htslib reads on, pysam refuses
    "chr1\t50\t.\tA\tC\t.\t.\t.\tGT\t0/1\t0/0",  # a sample column missing
])
@pytest.mark.parametrize("batch_records", [1, 1000])
def test_a_bad_sample_column_fails_both_ways_alike(tmp_path, bad, batch_records):
    """The record check reads a cohort's sites only; the sample columns are judged by the genotype
    query (read while it prints) and the FORMAT look-up. A bad sample column after good records, in a
    later batch or the same one, fails the file with the record reader's words."""
    path = tmp_path / "cohort.vcf"
    path.write_text(COHORT_HEADER + "\n".join([*COHORT_RECORDS, bad, COHORT_RECORDS[-1].replace("\t40\t", "\t60\t")]) + "\n")
    rows, error, _ = read(path, True, batch_records=batch_records)
    expected_rows, expected_error, _ = read(path, False, batch_records=batch_records)
    assert rows is None and expected_rows is None
    assert error == expected_error and "record 6" in error


def test_seen_ids_finds_repeats_within_and_across_batches():
    """Ids are probed only against batches whose spans they overlap; the first repeat turns the
    record of them into a dict that still knows each id's first batch."""
    from vcf_pipeline.lib.vcf.seen_ids import SeenIds

    seen = SeenIds()

    def batch(number, *sites):
        ids = pa.array([f"GRCh38:{c}-{p}-A-G" for c, p in sites])
        return seen.new(ids, pa.array([c for c, _ in sites]), pa.array([p for _, p in sites], pa.int64()), number)

    new, repeated = batch(0, ("chr1", 10), ("chr1", 20))
    assert new.tolist() == [True, True] and repeated == []
    new, repeated = batch(1, ("chr1", 30), ("chr2", 20))  # chr2:20 shares a position with no earlier id
    assert new.tolist() == [True, True] and repeated == []
    new, repeated = batch(2, ("chr1", 40), ("chr1", 20), ("chr1", 40))  # unsorted, and twice in one batch
    assert new.tolist() == [True, False, False] and repeated == [1, 2]
    assert seen.first_batch("GRCh38:chr1-20-A-G") == 0 and seen.first_batch("GRCh38:chr1-40-A-G") == 2
    new, repeated = batch(3, ("chr2", 20), ("chr3", 5))
    assert new.tolist() == [False, True] and seen.first_batch("GRCh38:chr2-20-A-G") == 1
