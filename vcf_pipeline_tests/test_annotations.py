"""Annotations read from the headers of real VEP, SnpEff and ClinVar files, and transcript choice."""

import pyarrow as pa

from vcf_pipeline.lib.embedding.text import describe_variant
from vcf_pipeline.lib.vcf.reader import VcfReader
from vcf_pipeline_tests.conftest import SHARED_VCF


def rows(path):
    """Variants by site (the id after its build)."""
    with VcfReader(path) as reader:
        return {v["variant_id"].split(":", 1)[1]: v for v in pa.Table.from_batches([b.variants for b in reader.batches()]).to_pylist()}


def annotated_share(variants, *columns):
    return sum(all(v[c] for c in columns) for v in variants.values()) / len(variants)


def test_clinvar_info_fields():
    variants = rows(SHARED_VCF / "ensembl-vep__clinvar-testset__input.vcf.gz")
    assert all(v["clinical_significance"] for v in variants.values())
    v = variants["chr1-925952-G-A"]
    assert v["clinical_significance"] == "Uncertain significance"
    assert v["clinvar_review_status"] == "criteria provided, single submitter"
    assert (v["gene_symbol"], v["gene_id"], v["consequence"]) == ("SAMD11", "148398", "missense_variant")
    assert variants["chr2-264985-G-T"]["rsid"] == "rs11691572"
    # 'not provided' is ClinVar's placeholder, not a condition.
    assert not any("not provided" in (v["conditions"] or []) for v in variants.values())


def test_vep_csq_gives_gene_consequence_and_impact():
    variants = rows(SHARED_VCF / "bcftools__test__split-vep.vcf")
    assert annotated_share(variants, "gene_symbol", "consequence", "impact") > 0.9


def test_snpeff_ann_gives_gene_consequence_and_protein_change():
    variants = rows(SHARED_VCF / "snpeff__old__EML4-ALK_fusion.vcf")
    assert annotated_share(variants, "gene_symbol", "consequence", "impact") > 0.9
    assert any(v["hgvs_p"] for v in variants.values())


def test_vep_alleles_match_split_multiallelic_indels(tmp_path):
    path = tmp_path / "multi.vcf"
    csq = "Allele|Consequence|IMPACT|SYMBOL|Gene|CANONICAL|HGVSp"
    path.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
        f'##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: {csq}">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        # ALT 1 is a deletion (VEP allele '-'), ALT 2 an insertion (VEP allele 'CT': only the shared first base is trimmed).
        "1\t100\t.\tAC\tA,ACT\t.\t.\tCSQ=-|frameshift_variant|HIGH|GENE1|G1|YES|p.X1fs,"
        "CT|inframe_insertion|MODERATE|GENE1|G1|YES|p.X1dup\n"
    )
    variants = rows(path)
    assert variants["chr1-100-AC-A"]["consequence"] == "frameshift_variant"
    assert variants["chr1-101-C-CT"]["consequence"] == "inframe_insertion"


def test_transcript_choice_prefers_canonical_then_most_severe(tmp_path):
    csq = "Allele|Consequence|IMPACT|SYMBOL|Gene|CANONICAL"
    header = (
        "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
        f'##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: {csq}">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    )
    (tmp_path / "t.vcf").write_text(
        header
        + "1\t10\t.\tA\tG\t.\t.\tCSQ=G|missense_variant|MODERATE|GENE1|G1|,G|intron_variant|MODIFIER|GENE1|G1|YES\n"
        + "1\t20\t.\tA\tG\t.\t.\tCSQ=G|intron_variant|MODIFIER|GENE2|G2|,G|stop_gained|HIGH|GENE2|G2|\n"
    )
    variants = rows(tmp_path / "t.vcf")
    assert variants["chr1-10-A-G"]["consequence"] == "intron_variant"  # canonical wins
    assert variants["chr1-20-A-G"]["consequence"] == "stop_gained"  # else the most severe


def test_description_names_gene_change_and_significance_not_coordinates():
    v = rows(SHARED_VCF / "ensembl-vep__clinvar-testset__input.vcf.gz")["chr2-264985-G-T"]
    text = describe_variant(v)
    assert text.startswith("ACP1") and "missense_variant" in text and "ClinVar Benign" in text
    # Coordinates, rsID and allele frequency are filterable columns, not words worth embedding.
    assert "264985" not in text and "rs11691572" not in text and "AF" not in text


def test_unannotated_variant_falls_back_to_type_and_alleles():
    assert describe_variant({"variant_type": "SNV", "ref": "A", "alt": "G"}) == "SNV A>G"
