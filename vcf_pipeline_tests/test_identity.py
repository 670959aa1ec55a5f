"""A variant's identity through the reader: the build of each file, contig spelling, normalisation
against a FASTA (`bcftools norm -m- -f` as the oracle), REF checks, merged records, and `bcftools csq`
annotation of files that have none (`pysam.bcftools.csq` as the oracle)."""

from __future__ import annotations

import random

import pyarrow as pa
import pysam
import pysam.bcftools
import pytest

from vcf_pipeline.lib.vcf.identity import IdentityOptions
from vcf_pipeline.lib.vcf.reader import VcfFormatError, VcfReader
from vcf_pipeline_tests.conftest import (
    SHARED_BUILDS,
    readable_shared_files,
    store_contig,
)
from vcf_pipeline_tests.files import repeats_and_indels

GT_HEADER = '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'


def parse(path, **options):
    with VcfReader(path, identity=IdentityOptions(**options)) as reader:
        batches = list(reader.batches())
    return pa.Table.from_batches([b.variants for b in batches]), pa.Table.from_batches([b.calls for b in batches]), reader.stats


def write_fasta(path, contigs: dict[str, str]):
    path.write_text("".join(f">{name}\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n" for name, seq in contigs.items()))
    return path


def write_vcf(path, header: str, records: list[str], samples=("S1",)):
    columns = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO" + ("\tFORMAT\t" + "\t".join(samples) if samples else "")
    path.write_text("##fileformat=VCFv4.2\n" + header + (GT_HEADER if samples else "") + columns + "\n" + "\n".join(records) + "\n")
    return path


@pytest.mark.parametrize("path", readable_shared_files(), ids=lambda p: p.name)
def test_every_shared_file_is_stored_under_the_build_its_header_states(path):
    build, evidence = SHARED_BUILDS[path.name]
    variants, _, stats = parse(path)
    assert stats.identity.build == build
    assert set(variants["assembly"].to_pylist()) <= {build, "hg19"}
    assert all(v.startswith(f"{a}:") for v, a in zip(variants["variant_id"].to_pylist(), variants["assembly"].to_pylist()))
    if evidence is None:
        assert stats.identity.build_evidence == [] and "--build" in stats.identity.build_advice
    else:
        assert any(evidence in e for e in stats.identity.build_evidence), stats.identity.build_evidence


def test_hg19_mitochondria_are_kept_apart_from_grch37s(tmp_path):
    records = lambda mito, one: [f"{mito}\t100\t.\tA\tG\t.\t.\t.\tGT\t1", f"{one}\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1"]  # noqa: E731
    ucsc = write_vcf(tmp_path / "hg19.vcf", "##reference=file:///ref/ucsc.hg19.fasta\n##contig=<ID=chrM,length=16571>\n##contig=<ID=chr1>\n", records("chrM", "chr1"))
    b37 = write_vcf(tmp_path / "b37.vcf", "##reference=human_g1k_v37.fasta\n##contig=<ID=MT,length=16569>\n##contig=<ID=1>\n", records("MT", "1"))
    hg19_ids, b37_ids = (set(parse(path)[0]["variant_id"].to_pylist()) for path in (ucsc, b37))
    assert hg19_ids == {"hg19:chrM-100-A-G", "GRCh37:chr1-100-A-G"}  # UCSC's chrM is not rCRS
    assert b37_ids == {"GRCh37:chrM-100-A-G", "GRCh37:chr1-100-A-G"}


def test_conflicting_evidence_fails_the_file_naming_both_unless_the_build_is_set(tmp_path):
    header = "##reference=GRCh38\n##contig=<ID=chr1,length=249250621>\n"  # GRCh38 named, GRCh37's chr1
    path = write_vcf(tmp_path / "mixed.vcf", header, ["chr1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1"])
    with pytest.raises(VcfFormatError) as caught:
        parse(path)
    assert "##reference=GRCh38 -> GRCh38" in str(caught.value) and "length 249250621 -> GRCh37" in str(caught.value)
    variants, _, stats = parse(path, build="GRCh37", build_origin="ingest --build")
    assert variants["variant_id"].to_pylist() == ["GRCh37:chr1-100-A-G"]
    assert stats.identity.build_evidence[0] == "ingest --build: GRCh37 -> GRCh37"


def _norm_case(tmp_path, contig="1"):
    """A FASTA with repeats (spelled `1`) and a VCF of records that need splitting, trimming and
    left-shifting, a deletion at position 1 among them."""
    sequence, records = repeats_and_indels(random.Random(7), records=120)
    fasta = write_fasta(tmp_path / "ref.fa", {contig: sequence})
    records = [r for r in records if r[0] != 1] + [(1, sequence[:2], sequence[0])]
    lines = [f"{contig}\t{pos}\t.\t{ref}\t{alts}\t.\t.\t.\tGT\t0/{alts.count(',') + 1}" for pos, ref, alts in sorted(records)]
    vcf = write_vcf(tmp_path / "calls.vcf", f"##contig=<ID={contig},length={len(sequence)}>\n", lines)
    return fasta, vcf


def test_stored_alleles_equal_bcftools_norm_with_the_reference(tmp_path):
    fasta, vcf = _norm_case(tmp_path)
    variants, calls, stats = parse(vcf, build="GRCh38", reference=fasta)
    normed = pysam.bcftools.norm("-m-", "-f", str(fasta), str(vcf))
    expected = {(store_contig(r[0]), int(r[1]), r[3], r[4]) for r in (line.split("\t") for line in normed.splitlines() if not line.startswith("#"))}
    got = set(zip(*(variants[c].to_pylist() for c in ("chrom", "pos", "ref", "alt"))))
    assert got == expected and variants.num_rows == len(expected)
    assert stats.identity.ref_checked > 0 and stats.identity.ref_mismatches == 0 and stats.identity.normalised_changed > 0
    # The sample carries the last ALT of each record; records that normalise to one variant merge their calls.
    assert calls.num_rows == len(set(calls["variant_id"].to_pylist()))


def test_two_records_of_one_variant_become_one_with_merged_calls(tmp_path):
    header = "##reference=GRCh38\n##contig=<ID=chr1,length=1000>\n"
    records = ["chr1\t10\t.\tTAAACCCTAAA\tTAA,T\t.\t.\t.\tGT\t0/1\t0/0", "chr1\t10\t.\tTAAACCCTA\tT\t.\t.\t.\tGT\t1/1\t0/1"]
    variants, calls, stats = parse(write_vcf(tmp_path / "twice.vcf", header, records, samples=("S1", "S2")))
    assert sorted(variants["variant_id"].to_pylist()) == ["GRCh38:chr1-10-TAAACCCTA-T", "GRCh38:chr1-10-TAAACCCTAAA-T"]
    assert stats.duplicate_variants == 1
    carriers = {(c["sample"], c["variant_id"]): c["gt"] for c in calls.to_pylist()}
    # S1 carries it in the first record (kept); S2 only in the second (merged in).
    assert carriers[("S1", "GRCh38:chr1-10-TAAACCCTA-T")] == "0/1" and carriers[("S2", "GRCh38:chr1-10-TAAACCCTA-T")] == "0/1"
    assert calls.num_rows == len(carriers)


def test_a_file_whose_refs_disagree_with_the_reference_fails_with_a_clear_message(tmp_path):
    sequence = "ACGT" * 50
    fasta = write_fasta(tmp_path / "ref.fa", {"chr1": sequence})
    wrong = {"A": "C", "C": "G", "G": "T", "T": "A"}
    lines = [f"chr1\t{p}\t.\t{wrong[sequence[p - 1]]}\t{sequence[p - 1]}\t.\t.\t.\tGT\t0/1" for p in range(5, 60, 5)]
    path = write_vcf(tmp_path / "wrong.vcf", "##contig=<ID=chr1,length=200>\n", lines)
    with pytest.raises(VcfFormatError) as caught:
        parse(path, build="GRCh38", reference=fasta)
    assert f"REF does not match {fasta} at 100% of sites" in str(caught.value) and "wrong build or wrong reference?" in str(caught.value)


def test_a_fasta_for_another_build_is_not_used_for_a_file(tmp_path):
    fasta = write_fasta(tmp_path / "ref.fa", {"chr1": "ACGT" * 50})
    path = write_vcf(tmp_path / "a.vcf", "##contig=<ID=chr1,length=300>\n", ["chr1\t5\t.\tA\tG\t.\t.\t.\tGT\t0/1"])
    _, _, stats = parse(path, any_reference=fasta)  # the environment's one FASTA: lengths differ, so not this file's
    assert stats.identity.reference == "" and "lengths differ" in stats.identity.reference_note


CODING = "ATG" + "GTT" + "ACC" * 5 + "TGG" + "GCA" * 10 + "CAG" + "GCC" * 20 + "TAA"


def _gene_model(tmp_path):
    rng = random.Random(11)
    flank = lambda n: "".join(rng.choice("ACGT") for _ in range(n))  # noqa: E731
    sequence = flank(100) + CODING + flank(150)
    cds_end = 100 + len(CODING)
    fasta = write_fasta(tmp_path / "genome.fa", {"chr1": sequence})
    gff3 = tmp_path / "genes.gff3"
    gff3.write_text(
        "##gff-version 3\n"
        f"chr1\ttest\tgene\t51\t{cds_end + 50}\t.\t+\t.\tID=gene:G1;Name=GENEA;biotype=protein_coding\n"
        f"chr1\ttest\tmRNA\t51\t{cds_end + 50}\t.\t+\t.\tID=transcript:T1;Parent=gene:G1;biotype=protein_coding\n"
        f"chr1\ttest\texon\t51\t{cds_end + 50}\t.\t+\t.\tParent=transcript:T1\n"
        f"chr1\ttest\tfive_prime_UTR\t51\t100\t.\t+\t.\tParent=transcript:T1\n"
        f"chr1\ttest\tCDS\t101\t{cds_end}\t.\t+\t0\tID=CDS:P1;Parent=transcript:T1\n"
        f"chr1\ttest\tthree_prime_UTR\t{cds_end + 1}\t{cds_end + 50}\t.\t+\t.\tParent=transcript:T1\n"
    )
    return sequence, fasta, gff3


def test_an_unannotated_file_gets_gene_and_consequence_from_bcftools_csq(tmp_path):
    sequence, fasta, gff3 = _gene_model(tmp_path)
    at = lambda pos, n=1: sequence[pos - 1 : pos - 1 + n]  # noqa: E731
    records = [
        f"chr1\t104\t.\t{at(104)}\tC\t.\t.\t.\tGT\t0/1",  # GTT -> CTT: Val2Leu, missense
        f"chr1\t106\t.\t{at(106)}\tC\t.\t.\t.\tGT\t0/1",  # GTT -> GTC: synonymous
        f"chr1\t124\t.\t{at(124)}\tA\t.\t.\t.\tGT\t0/1",  # TGG -> TGA: stop gained
        f"chr1\t140\t.\t{at(140, 2)}\t{at(140)}\t.\t.\t.\tGT\t1/1",  # a 1-base deletion: frameshift
        f"chr1\t{100 + len(CODING) + 10}\t.\t{at(100 + len(CODING) + 10)}\tN\t.\t.\t.\tGT\t0/1",  # 3' UTR
        "chr1\t20\t.\tA\tG\t.\t.\t.\tGT\t0/1",  # outside the gene
    ]
    records[-2] = records[-2].replace("\tN\t", "\t" + ("A" if at(100 + len(CODING) + 10) != "A" else "C") + "\t")
    records[-1] = f"chr1\t20\t.\t{at(20)}\t{'A' if at(20) != 'A' else 'C'}\t.\t.\t.\tGT\t0/1"
    vcf = write_vcf(tmp_path / "raw.vcf", f"##contig=<ID=chr1,length={len(sequence)}>\n", sorted(records, key=lambda r: int(r.split("\t")[1])))
    variants, _, stats = parse(vcf, build="GRCh38", reference=fasta, gene_models={"GRCh38": gff3})
    assert stats.annotation_kinds == ["bcftools csq"] and str(gff3) in stats.annotation_source

    printed = pysam.bcftools.csq("--local-csq", "--samples", "-", "-f", str(fasta), "-g", str(gff3), str(vcf))
    oracle = {}
    for line in printed.splitlines():
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        bcsq = dict(kv.split("=", 1) for kv in fields[7].split(";") if kv.startswith("BCSQ="))
        entry = bcsq["BCSQ"].split("|") if bcsq else []
        oracle[(int(fields[1]), fields[3], fields[4])] = (entry[1], entry[0]) if entry else (None, None)
    so_terms = {"missense": "missense_variant", "synonymous": "synonymous_variant", "stop_gained": "stop_gained",
                "frameshift": "frameshift_variant", "3_prime_utr": "3_prime_UTR_variant"}
    assert {t for _, t in oracle.values() if t} == set(so_terms)  # the file holds each kind once
    stored = {(v["pos"], v["ref"], v["alt"]): (v["gene_symbol"], v["consequence"]) for v in variants.to_pylist()}
    assert stored == {k: (gene, so_terms.get(term)) for k, (gene, term) in oracle.items()}
    by_consequence = {v["consequence"]: v for v in variants.to_pylist()}
    assert by_consequence["missense_variant"]["hgvs_p"] == "p.Val2Leu" and by_consequence["missense_variant"]["impact"] == "MODERATE"
    assert by_consequence["stop_gained"]["impact"] == "HIGH"


def test_without_a_gene_model_the_metadata_says_why_nothing_annotated(tmp_path):
    path = write_vcf(tmp_path / "raw.vcf", "##reference=GRCh38\n", ["chr1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1"])
    _, _, stats = parse(path)
    assert stats.annotation_kinds == []
    assert stats.annotation_source.startswith("none:") and "build GRCh38 has neither a reference FASTA nor a GFF3 gene model" in stats.annotation_source


def test_a_missing_or_unfitting_reference_is_named(tmp_path):
    path = write_vcf(tmp_path / "a.vcf", "##reference=GRCh38\n##contig=<ID=chr1,length=200>\n", ["chr1\t5\t.\tA\tG\t.\t.\t.\tGT\t0/1"])
    with pytest.raises(VcfFormatError, match="reference FASTA .*nowhere.fa does not exist"):
        parse(path, reference=tmp_path / "nowhere.fa")
    other = write_fasta(tmp_path / "mouse.fa", {"mm_chr1": "ACGT" * 50})
    _, _, stats = parse(path, reference=other)
    assert stats.identity.reference == "" and "holds none of the file's contigs" in stats.identity.reference_note


@pytest.mark.parametrize("batch_records", [1, 2, 50_000])
def test_calls_merge_across_a_batch_boundary(tmp_path, batch_records):
    header = "##reference=GRCh38\n##contig=<ID=chr1,length=1000>\n"
    records = ["chr1\t10\t.\tTAAACCCTAAA\tTAA\t.\t.\t.\tGT\t0/1\t0/0\t1/1",
               "chr1\t10\t.\tTAAACCCTA\tT\t.\t.\t.\tGT\t1/1\t0/1\t0/1",
               "chr1\t20\t.\tC\tG\t.\t.\t.\tGT\t0/1\t0/1\t0/0"]
    path = write_vcf(tmp_path / "twice.vcf", header, records, samples=("S1", "S2", "S3"))
    with VcfReader(path, batch_records=batch_records) as reader:
        calls = pa.concat_tables(pa.Table.from_batches([b.calls]) for b in reader.batches())
    deletion = "GRCh38:chr1-10-TAAACCCTA-T"
    got = sorted((c["sample"], c["gt"]) for c in calls.to_pylist() if c["variant_id"] == deletion)
    assert got == [("S1", "0/1"), ("S2", "0/1"), ("S3", "1/1")]  # S1 and S3 from the first record, S2 from the second
