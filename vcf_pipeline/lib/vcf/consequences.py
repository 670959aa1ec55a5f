"""Annotation for files that carry none: `bcftools csq` (shipped in pysam) with the build's reference
FASTA and GFF3 gene model, and the reading of its BCSQ field.

csq runs per record (`--local-csq`) and for the sites only (`--samples -`): a variant store keeps one
annotation per variant, not one per sample haplotype. Its consequence terms are shortened Sequence
Ontology terms (`missense`, `3_prime_utr`); they are stored as the full terms VEP and SnpEff use, so
one filter finds a consequence whichever tool wrote it, with VEP's impact class for each.
"""

from __future__ import annotations

import re
from pathlib import Path

# bcftools csq term -> (Sequence Ontology term, VEP impact)
CSQ_TERMS = {
    "intergenic": ("intergenic_variant", "MODIFIER"),
    "intron": ("intron_variant", "MODIFIER"),
    "non_coding": ("non_coding_transcript_variant", "MODIFIER"),
    "5_prime_utr": ("5_prime_UTR_variant", "MODIFIER"),
    "3_prime_utr": ("3_prime_UTR_variant", "MODIFIER"),
    "coding_sequence": ("coding_sequence_variant", "MODIFIER"),
    "synonymous": ("synonymous_variant", "LOW"),
    "splice_region": ("splice_region_variant", "LOW"),
    "stop_retained": ("stop_retained_variant", "LOW"),
    "start_retained": ("start_retained_variant", "LOW"),
    "missense": ("missense_variant", "MODERATE"),
    "inframe_insertion": ("inframe_insertion", "MODERATE"),
    "inframe_deletion": ("inframe_deletion", "MODERATE"),
    "inframe_altering": ("protein_altering_variant", "MODERATE"),
    "splice_acceptor": ("splice_acceptor_variant", "HIGH"),
    "splice_donor": ("splice_donor_variant", "HIGH"),
    "stop_gained": ("stop_gained", "HIGH"),
    "frameshift": ("frameshift_variant", "HIGH"),
    "stop_lost": ("stop_lost", "HIGH"),
    "start_lost": ("start_lost", "HIGH"),
    "feature_elongation": ("feature_elongation", "MODERATE"),
}
_IMPACT_ORDER = ("HIGH", "MODERATE", "LOW", "MODIFIER")
_AMINO = dict(zip("ACDEFGHIKLMNPQRSTVWY*", "Ala Cys Asp Glu Phe Gly His Ile Lys Leu Met Asn Pro Gln Arg Ser Thr Val Trp Tyr Ter".split()))
_PROTEIN_CHANGE = re.compile(r"(\d+)([A-Z*])>\1([A-Z*])")


class CsqFailed(RuntimeError):
    """bcftools csq could not annotate the file (the reason is its own message)."""


def annotate_with_csq(vcf: Path, fasta: Path, gff3: Path, out_dir: Path) -> Path:
    """A copy of `vcf` with a BCSQ field, written to `out_dir`."""
    import pysam.bcftools
    from pysam.utils import SamtoolsError

    out = out_dir / (vcf.name.split(".")[0] + ".csq.vcf")  # plain text: htslib looks for no index
    try:
        pysam.bcftools.csq("--local-csq", "--samples", "-", "-f", str(fasta), "-g", str(gff3), "-O", "v", "-o", str(out), str(vcf), catch_stdout=False)
    except SamtoolsError as exc:
        lines = [line for line in str(exc).replace("\\n", "\n").splitlines() if line.startswith(("Error", "[E::"))]
        raise CsqFailed(lines[-1] if lines else str(exc)) from None
    return out


def bcsq_entry(named: dict[str, str]) -> dict[str, str]:
    """A BCSQ entry's fields in the terms of the other annotation formats: SO consequences (`&`-joined
    as VEP joins them), their impact, and the protein change as HGVS (`2V>2I` -> `p.Val2Ile`)."""
    out = dict(named)
    terms = [CSQ_TERMS.get(term.lstrip("*"), (term.lstrip("*"), "MODIFIER")) for term in named.get("consequence", "").split("&") if term]
    if terms:
        out["consequence"] = "&".join(term for term, _ in terms)
        out["impact"] = min((impact for _, impact in terms), key=_IMPACT_ORDER.index)
    change = _PROTEIN_CHANGE.fullmatch(named.get("hgvs_p", ""))
    if change:
        position, before, after = change.groups()
        out["hgvs_p"] = f"p.{_AMINO[before]}{position}{_AMINO[after]}" if before != after else f"p.{_AMINO[before]}{position}="
    else:
        out.pop("hgvs_p", None)
    return out


def bcsq_allele(dna_change: str) -> str | None:
    """The ALT allele a BCSQ entry is about, from its DNA change (`104G>A`, `160TA>T`)."""
    return dna_change.rpartition(">")[2] or None if ">" in dna_change else None
