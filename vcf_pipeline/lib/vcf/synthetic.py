"""Writes realistic, annotated VCFs (VEP CSQ + ClinVar INFO + genotypes) for sample data and benchmarks.

Variants are drawn from a seeded 'universe' over real genes (GRCh38 coordinates), so files written
with the same seed share variants, as real cohorts do. Run `python -m vcf_pipeline.lib.vcf.synthetic DIR`
to regenerate the bundled samples in `data/samples/`.
"""

from __future__ import annotations

import random
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import pysam

# symbol, Ensembl gene id, chrom, start, end, condition
GENES = [
    ("BRCA1", "ENSG00000012048", "chr17", 43044295, 43125483, "Hereditary breast ovarian cancer syndrome"),
    ("BRCA2", "ENSG00000139618", "chr13", 32315474, 32400266, "Hereditary breast ovarian cancer syndrome"),
    ("TP53", "ENSG00000141510", "chr17", 7668402, 7687550, "Li-Fraumeni syndrome"),
    ("CFTR", "ENSG00000001626", "chr7", 117480025, 117668665, "Cystic fibrosis"),
    ("MLH1", "ENSG00000076242", "chr3", 36993332, 37050918, "Lynch syndrome"),
    ("LDLR", "ENSG00000130164", "chr19", 11089462, 11133820, "Familial hypercholesterolemia"),
    ("APOE", "ENSG00000130203", "chr19", 44905791, 44909393, "Alzheimer disease"),
    ("KRAS", "ENSG00000133703", "chr12", 25205246, 25250929, "Noonan syndrome"),
    ("PTEN", "ENSG00000171862", "chr10", 87863113, 87971930, "PTEN hamartoma tumor syndrome"),
    ("HBB", "ENSG00000244734", "chr11", 5225464, 5229395, "Beta-thalassemia"),
    ("SCN1A", "ENSG00000144285", "chr2", 165984641, 166149161, "Dravet syndrome"),
    ("MYH7", "ENSG00000092054", "chr14", 23412740, 23435660, "Hypertrophic cardiomyopathy"),
]
# consequence, impact, ClinVar significances it plausibly gets
CONSEQUENCES = [
    ("missense_variant", "MODERATE", ["Uncertain significance", "Likely pathogenic", "Pathogenic", "Benign"]),
    ("synonymous_variant", "LOW", ["Benign", "Likely benign"]),
    ("stop_gained", "HIGH", ["Pathogenic"]),
    ("frameshift_variant", "HIGH", ["Pathogenic", "Likely pathogenic"]),
    ("splice_donor_variant", "HIGH", ["Pathogenic", "Likely pathogenic"]),
    ("intron_variant", "MODIFIER", ["Benign", "Likely benign", None]),
    ("3_prime_UTR_variant", "MODIFIER", ["Benign", None]),
]
AMINO_ACIDS = "Ala Arg Asn Asp Cys Gln Glu Gly His Ile Leu Lys Met Phe Pro Ser Thr Trp Tyr Val".split()
REVIEW = ["criteria provided, single submitter", "criteria provided, multiple submitters, no conflicts", "reviewed by expert panel"]
CSQ_FORMAT = "Allele|Consequence|IMPACT|SYMBOL|Gene|Feature|BIOTYPE|HGVSc|HGVSp|CANONICAL|gnomADe_AF"


@dataclass(frozen=True)
class SyntheticVariant:
    chrom: str
    pos: int
    ref: str
    alt: str
    gene: tuple
    consequence: str
    impact: str
    hgvs_c: str
    hgvs_p: str
    significance: str | None
    review: str
    af: float
    rsid: str | None


def spread_genes(count: int, seed: int = 11) -> list[tuple]:
    """`count` made-up genes (`SG00001`...) laid along GRCh38's chromosomes, 10-150 kb each, so that
    a large file has the density of a real one (a variant every few kb) rather than GENES' twelve."""
    rng = random.Random(seed)
    lengths = {"chr1": 248_956_422, "chr2": 242_193_529, "chr3": 198_295_559, "chr4": 190_214_555, "chr5": 181_538_259,
               "chr6": 170_805_979, "chr7": 159_345_973, "chr8": 145_138_636, "chr9": 138_394_717, "chr10": 133_797_422}  # fmt: skip
    chroms = list(lengths)
    genes = []
    for i in range(count):
        chrom = chroms[i % len(chroms)]
        start = rng.randint(1_000_000, lengths[chrom] - 200_000)
        condition = GENES[i % len(GENES)][5]
        genes.append((f"SG{i + 1:05d}", f"ENSG9{i + 1:010d}", chrom, start, start + rng.randint(10_000, 150_000), condition))
    return genes


def variant_universe(size: int, seed: int = 7, genes: list[tuple] | None = None) -> list[SyntheticVariant]:
    """`size` distinct variants over `genes` (default GENES), deterministic for a seed."""
    rng = random.Random(seed)
    genes = genes or GENES
    seen, out = set(), []
    while len(out) < size:
        gene = rng.choice(genes)
        consequence, impact, significances = rng.choice(CONSEQUENCES)
        pos = rng.randint(gene[3], gene[4])
        ref = rng.choice("ACGT")
        if consequence == "frameshift_variant":
            alt = ref + "".join(rng.choice("ACGT") for _ in range(rng.choice((1, 2, 4))))
        else:
            alt = rng.choice([b for b in "ACGT" if b != ref])
        if (gene[2], pos, ref, alt) in seen:
            continue
        seen.add((gene[2], pos, ref, alt))
        codon = rng.randint(20, 1800)
        aa1, aa2 = rng.sample(AMINO_ACIDS, 2)
        hgvs_p = {
            "missense_variant": f"p.{aa1}{codon}{aa2}",
            "synonymous_variant": f"p.{aa1}{codon}=",
            "stop_gained": f"p.{aa1}{codon}Ter",
            "frameshift_variant": f"p.{aa1}{codon}fs",
        }.get(consequence, "")
        out.append(
            SyntheticVariant(
                chrom=gene[2], pos=pos, ref=ref, alt=alt, gene=gene, consequence=consequence, impact=impact,
                hgvs_c=f"c.{codon * 3 - rng.randint(0, 2)}{ref}>{alt}" if len(alt) == 1 else f"c.{codon * 3}dup",
                hgvs_p=hgvs_p, significance=rng.choice(significances), review=rng.choice(REVIEW),
                af=round(10 ** rng.uniform(-5.5, -0.5), 6), rsid=f"rs{rng.randint(10_000, 900_000_000)}" if rng.random() < 0.7 else None,
            )
        )
    return out


def _header(samples: list[str], contigs: list[str]) -> str:
    lines = [
        "##fileformat=VCFv4.2",
        "##source=vcf_pipeline.lib.vcf.synthetic",
        "##reference=GRCh38",
        *(f"##contig=<ID={c}>" for c in contigs),
        f'##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: {CSQ_FORMAT}">',
        '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Clinical significance for this single variant">',
        '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="ClinVar review status for the Variation ID">',
        '##INFO=<ID=CLNDN,Number=.,Type=String,Description="ClinVar\'s preferred disease name">',
        '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">',
        '##FILTER=<ID=LowQual,Description="Low quality">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
        '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
    ]
    columns = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO" + ("\tFORMAT\t" + "\t".join(samples) if samples else "")
    return "\n".join([*lines, columns]) + "\n"


def _clinvar(text: str) -> str:
    """ClinVar's INFO encoding: spaces become '_' (so ', ' becomes ',_')."""
    return text.replace(" ", "_")


def _record(v: SyntheticVariant, samples: list[str], rng: random.Random) -> str:
    csq = "|".join([v.alt if len(v.alt) == 1 else v.alt[1:], v.consequence, v.impact, v.gene[0], v.gene[1],
                    f"ENST{zlib.crc32(v.gene[0].encode()) % 10**11:011d}", "protein_coding", v.hgvs_c, v.hgvs_p, "YES", f"{v.af:g}"])
    info = [f"AF={v.af:g}", f"CSQ={csq}"]
    if v.significance:
        info += [f"CLNSIG={_clinvar(v.significance)}", f"CLNREVSTAT={_clinvar(v.review)}", f"CLNDN={_clinvar(v.gene[5])}"]
    qual = rng.randint(30, 3000)
    fields = [v.chrom, str(v.pos), v.rsid or ".", v.ref, v.alt, str(qual), "PASS" if qual > 50 else "LowQual", ";".join(info)]
    if samples:
        fields.append("GT:AD:DP:GQ")
        for _ in samples:
            gt = rng.choices(["0/0", "0/1", "1/1", "./."], weights=[50, 35, 12, 3])[0]
            dp = rng.randint(8, 120)
            alt_reads = {"0/0": 0, "0/1": dp // 2, "1/1": dp, "./.": 0}[gt]
            fields.append(f"{gt}:{dp - alt_reads},{alt_reads}:{dp}:{rng.randint(10, 99)}" if gt != "./." else "./.:.:.:.")
    return "\t".join(fields)


def write_vcf(path: Path, variants: list[SyntheticVariant], samples: list[str], seed: int = 1) -> Path:
    """Write the variants (sorted) with genotypes for `samples`; bgzip when the name ends in .gz."""
    rng = random.Random(seed)
    contigs = sorted({g[2] for g in GENES} | {v.chrom for v in variants}, key=lambda c: int(c[3:]))
    order = {c: i for i, c in enumerate(contigs)}
    rows = sorted(variants, key=lambda v: (order[v.chrom], v.pos, v.ref, v.alt))
    path = Path(path)
    plain = path.with_suffix("") if path.suffix == ".gz" else path
    with open(plain, "w") as fh:
        fh.write(_header(samples, contigs))
        for v in rows:
            fh.write(_record(v, samples, rng) + "\n")
    if plain != path:
        pysam.tabix_index(str(plain), preset="vcf", force=True)  # bgzips to `path` and writes `path`.tbi
    return path


def write_samples(folder: Path) -> list[Path]:
    """The bundled sample files: a trio with its pedigree, a tumour/normal panel (bgzipped) and a
    ClinVar-style site list. They share variants, so ingesting the second and third embeds only what
    is new."""
    folder.mkdir(parents=True, exist_ok=True)
    universe = variant_universe(160, seed=7)
    rng = random.Random(11)
    pedigree = folder / "family_trio.ped"
    pedigree.write_text("# family\tindividual\tfather\tmother\tsex\tphenotype\nTRIO1\tPROBAND\tFATHER\tMOTHER\t1\t2\n"
                        "TRIO1\tFATHER\t0\t0\t1\t1\nTRIO1\tMOTHER\t0\t0\t2\t1\n")  # fmt: skip
    return [
        write_vcf(folder / "family_trio.vcf", rng.sample(universe, 60), ["PROBAND", "MOTHER", "FATHER"], seed=1),
        pedigree,
        write_vcf(folder / "tumor_normal_panel.vcf.gz", rng.sample(universe, 50), ["TUMOR", "NORMAL"], seed=2),
        write_vcf(folder / "clinvar_sites.vcf", rng.sample(universe, 70), [], seed=3),
    ]


if __name__ == "__main__":
    for written in write_samples(Path(sys.argv[1] if len(sys.argv) > 1 else "data/samples")):
        print(written)
