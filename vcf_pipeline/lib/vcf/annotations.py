"""Variant annotations read generically from a VCF header: VEP CSQ, SnpEff ANN, bcftools csq's BCSQ
and ClinVar INFO.

`AnnotationReader(header)` looks at the header once; `annotate(record, alt_indexes)` then returns the
annotation columns of each ALT allele, choosing one transcript: MANE/canonical first, else the most
severe consequence. This is the record reader's path (BCF, BCSQ); VCF text is annotated a batch at a
time by lib/vcf/annotation_columns.py, which applies these rules (and the small functions below) to
whole columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

import pysam

from vcf_pipeline.lib.vcf.consequences import bcsq_allele, bcsq_entry

ANNOTATION_COLUMNS = (
    "rsid",
    "gene_symbol",
    "gene_id",
    "consequence",
    "impact",
    "hgvs_c",
    "hgvs_p",
    "clinical_significance",
    "clinvar_review_status",
    "conditions",
    "allele_frequency",
)

# Sequence Ontology consequences, most severe first (Ensembl's order, with SnpEff's extra terms slotted in).
_CONSEQUENCE_ORDER = """
chromosome_number_variation exon_loss_variant transcript_ablation bidirectional_gene_fusion gene_fusion
splice_acceptor_variant splice_donor_variant stop_gained frameshift_variant stop_lost start_lost
rare_amino_acid_variant transcript_amplification feature_elongation feature_truncation
disruptive_inframe_insertion disruptive_inframe_deletion conservative_inframe_insertion
conservative_inframe_deletion inframe_insertion inframe_deletion missense_variant
protein_protein_contact structural_interaction_variant protein_altering_variant
splice_donor_5th_base_variant splice_region_variant splice_donor_region_variant
splice_polypyrimidine_tract_variant incomplete_terminal_codon_variant initiator_codon_variant
start_retained_variant stop_retained_variant synonymous_variant coding_sequence_variant
mature_miRNA_variant 5_prime_UTR_premature_start_codon_gain_variant 5_prime_UTR_variant
3_prime_UTR_variant non_coding_transcript_exon_variant exon_variant intron_variant
NMD_transcript_variant non_coding_transcript_variant non_coding_exon_variant coding_transcript_variant
upstream_gene_variant downstream_gene_variant TFBS_ablation TFBS_amplification TF_binding_site_variant
regulatory_region_ablation regulatory_region_amplification regulatory_region_variant
intragenic_variant conserved_intergenic_variant intergenic_region intergenic_variant sequence_variant
""".split()
_CONSEQUENCE_RANK = {term: rank for rank, term in enumerate(_CONSEQUENCE_ORDER)}
IMPACT_RANK = {"HIGH": 0, "MODERATE": 1, "LOW": 2, "MODIFIER": 3}
_UNRANKED = len(_CONSEQUENCE_ORDER)

# Canonical name -> subfield names used by VEP (CSQ) and SnpEff (ANN).
_SUBFIELDS = {
    "allele": ("Allele",),
    "allele_num": ("ALLELE_NUM",),
    "gene_symbol": ("SYMBOL", "Gene_Name", "gene"),
    "gene_id": ("Gene", "Gene_ID"),
    "consequence": ("Consequence", "Annotation"),
    "impact": ("IMPACT", "Annotation_Impact"),
    "hgvs_c": ("HGVSc", "HGVS.c"),
    "hgvs_p": ("HGVSp", "HGVS.p", "amino_acid_change"),
    "dna_change": ("dna_change",),
    "mane": ("MANE_SELECT", "MANE"),
    "canonical": ("CANONICAL",),
    "existing": ("Existing_variation",),
    "clin_sig": ("CLIN_SIG",),
    "af": ("gnomADe_AF", "gnomAD_AF", "gnomADg_AF", "AF", "MAX_AF"),
}
BCSQ = "BCSQ"
_CLINVAR_PLACEHOLDERS = {"not provided", "not specified", ""}
# Plain INFO fields the annotation columns come from (ClinVar's, dbSNP's RS, allele frequencies).
_INFO_READ = {"CLNSIG", "CLNREVSTAT", "CLNDN", "GENEINFO", "MC", "RS", "AF", "AF_EXAC", "AF_TGP", "AF_ESP"}


def consequence_rank(consequence: str | None) -> int:
    """Severity rank of a (possibly '&'-joined) consequence; lower is more severe."""
    if not consequence:
        return _UNRANKED + 1
    return min(_CONSEQUENCE_RANK.get(term, _UNRANKED) for term in re.split(r"[&,]", consequence))


def clinvar_text(values) -> str | None:
    """ClinVar INFO values use '_' for spaces; pysam splits Number=. values on ','."""
    if values is None:
        return None
    text = ",".join(values) if isinstance(values, tuple) else str(values)
    text = text.replace("_", " ").replace(", ", ",").replace(",", ", ").strip()
    return text or None


@dataclass(frozen=True)
class TranscriptField:
    """One INFO field holding '|'-separated transcript annotations (VEP CSQ or SnpEff ANN)."""

    info_id: str
    index: dict[str, int]  # canonical name -> position in the '|'-separated entry

    def entries(self, raw) -> list[list[str]]:
        """The field's entries, each split into its subfields."""
        if raw is None:
            return []
        return [entry.split("|") for entry in (raw.split(",") if isinstance(raw, str) else raw)]

    def for_allele(self, entries: list[list[str]], record: pysam.VariantRecord, alt_index: int) -> list[dict[str, str]]:
        """The entries about ALT `alt_index`, as {canonical name: value}."""
        chosen = None
        if "dna_change" in self.index:  # BCSQ: the change names its allele
            i, alt = self.index["dna_change"], record.alts[alt_index]
            chosen = [e for e in entries if i < len(e) and bcsq_allele(e[i]) == alt] or None
        if chosen is None and "allele_num" in self.index:
            i, wanted = self.index["allele_num"], str(alt_index + 1)
            chosen = [e for e in entries if i < len(e) and e[i].strip() == wanted] or None
        if chosen is None and "allele" in self.index:
            i, names = self.index["allele"], {record.alts[alt_index], vep_allele(record.ref, record.alts, alt_index)}
            chosen = [e for e in entries if i < len(e) and e[i].strip() in names] or None
        if chosen is None:
            # Entries that name no allele we know: they can only be about a record's single ALT.
            chosen = entries if len(record.alts) == 1 else []
        named = [self._named(e) for e in chosen]
        return [bcsq_entry(n) for n in named] if self.info_id == BCSQ else named

    def _named(self, parts: list[str]) -> dict[str, str]:
        named = {}
        for name, i in self.index.items():
            if i < len(parts):
                value = parts[i].strip()
                if value:
                    named[name] = unquote(value) if "%" in value else value
        return named


def vep_allele(ref: str, alts: tuple[str, ...], alt_index: int) -> str:
    """VEP's allele string: the shared first base is trimmed from indels, an empty allele becomes '-'."""
    alt = alts[alt_index]
    alleles = (ref, *alts)
    if all(a and not a.startswith("<") and a[0] == ref[0] for a in alleles) and any(len(a) != len(ref) for a in alleles):
        return alt[1:] or "-"
    return alt


def parse_subfield_names(description: str) -> list[str] | None:
    """Subfield names from a CSQ-style ('Format: a|b|c') or ANN-style ("'a | b | c'") description."""
    if "Format:" in description:
        spec = description.split("Format:", 1)[1]
    elif "'" in description and "|" in description:
        spec = description.split("'")[1]
    else:
        return None
    names = [n.strip().strip("\"' ") for n in spec.split("|")]
    return names if len(names) > 1 else None


class AnnotationReader:
    """Reads the annotation columns of ALT alleles, as far as the file's header declares them."""

    def __init__(self, header: pysam.VariantHeader):
        info = header.info
        self.transcript_fields: list[TranscriptField] = []
        # VEP first: it carries MANE/canonical flags and population frequencies.
        for info_id in sorted(info.keys(), key=lambda k: (k != "CSQ", k != "ANN", k)):
            meta = info[info_id]
            if meta.type != "String":
                continue
            names = parse_subfield_names(meta.description or "")
            if not names or not ({"Consequence", "Annotation"} & set(names)):
                continue
            index = {}
            for canonical, aliases in _SUBFIELDS.items():
                for alias in aliases:
                    if alias in names:
                        index[canonical] = names.index(alias)
                        break
            self.transcript_fields.append(TranscriptField(info_id, index))
        # The INFO fields read per record: those declared, minus Number=G ones (pysam fails to decode them).
        wanted = {f.info_id for f in self.transcript_fields} | _INFO_READ
        self.read_keys = tuple(k for k in info.keys() if k in wanted and info[k].number != "G")
        self._info = set(self.read_keys)
        self.af_per_allele = "AF" in self._info and info["AF"].number == "A"
        self.kinds = sorted(
            {_kind(f.info_id, info[f.info_id].description or "") for f in self.transcript_fields}
            | ({"ClinVar"} if "CLNSIG" in self._info else set())
        )

    def annotate(self, record: pysam.VariantRecord, alt_indexes: list[int]) -> list[dict]:
        """Annotation columns (see ANNOTATION_COLUMNS) of each ALT in `alt_indexes` (0-based)."""
        info = record.info
        values = {key: info.get(key) for key in self.read_keys if key in info}
        entries = [(f, f.entries(values.get(f.info_id))) for f in self.transcript_fields]
        return [self._annotate_allele(record, values, entries, alt_index) for alt_index in alt_indexes]

    def _annotate_allele(self, record, values: dict, entries, alt_index: int) -> dict:
        out = dict.fromkeys(ANNOTATION_COLUMNS)
        chosen = [best for best in (_choose_transcript(f.for_allele(e, record, alt_index)) for f, e in entries if e) if best]
        for name in ("gene_symbol", "gene_id", "consequence", "impact", "hgvs_c", "hgvs_p"):
            out[name] = next((t[name] for t in chosen if t.get(name)), None)
        self._add_clinvar(values, out)
        if out["clinical_significance"] is None:
            sig = next((t["clin_sig"] for t in chosen if t.get("clin_sig")), None)
            out["clinical_significance"] = sig.replace("_", " ").replace("&", ", ") if sig else None
        out["rsid"] = _rsid(record, chosen, values.get("RS"))
        out["allele_frequency"] = self._allele_frequency(values, alt_index, chosen)
        return out

    def _add_clinvar(self, values: dict, out: dict) -> None:
        out["clinical_significance"] = clinvar_text(values.get("CLNSIG"))
        out["clinvar_review_status"] = clinvar_text(values.get("CLNREVSTAT"))
        out["conditions"] = clinvar_conditions(values.get("CLNDN"))
        geneinfo = values.get("GENEINFO")
        if geneinfo and not out["gene_symbol"]:
            symbol, gene_id = clinvar_gene(geneinfo)
            out["gene_symbol"], out["gene_id"] = symbol, out["gene_id"] or gene_id
        mc = values.get("MC")
        if mc and not out["consequence"]:
            out["consequence"] = most_severe_mc(mc)

    def _allele_frequency(self, values: dict, alt_index: int, chosen) -> float | None:
        """INFO AF, else the first chosen transcript's parseable frequency, else ExAC/TGP/ESP's: the
        first source that has a value decides, even when it is no frequency."""
        value = info_af_value(values.get("AF"), alt_index, self.af_per_allele)
        if value is not None:
            return frequency_of(value)
        for t in chosen:
            found = transcript_frequency(t.get("af"))
            if found is not None:
                return found
        for key in FALLBACK_AF:
            value = values.get(key)
            if value is not None:
                return frequency_of(value)
        return None


FALLBACK_AF = ("AF_EXAC", "AF_TGP", "AF_ESP")


def info_af_value(af, alt_index: int, per_allele: bool):
    """The INFO AF value (as pysam gives it) of ALT `alt_index`; None when there is none."""
    if af is None:
        return None
    value = af[alt_index] if per_allele and alt_index < len(af) else af
    if isinstance(value, tuple):
        value = value[0] if value else None
    return value


def transcript_frequency(text: str | None) -> float | None:
    """A transcript entry's frequency subfield (`0.01&0.02`: the first), None when empty or no number."""
    if not text:
        return None
    try:
        return float(text.split("&")[0])
    except ValueError:
        return None


def clinvar_conditions(names) -> list[str] | None:
    """ClinVar's CLNDN (as pysam gives it) as condition names, placeholders left out."""
    text = clinvar_text(names)
    if not text:
        return None
    conditions = [c.strip() for c in text.split("|")]
    return [c for c in conditions if c.lower() not in _CLINVAR_PLACEHOLDERS] or None


def clinvar_gene(geneinfo) -> tuple[str | None, str | None]:
    """(symbol, gene id) of ClinVar's GENEINFO (`SYMBOL:ID|...`): the first gene."""
    symbol, _, gene_id = str(geneinfo).split("|")[0].partition(":")
    return symbol or None, gene_id or None


def most_severe_mc(mc) -> str | None:
    """The most severe term of ClinVar's MC (`SO:0001583|missense_variant,...`)."""
    terms = [item.partition("|")[2] for item in (mc if isinstance(mc, tuple) else (mc,))]
    return min(filter(None, terms), key=consequence_rank, default=None)


def clinvar_rsid(rs) -> str | None:
    """ClinVar's RS (dbSNP number, as pysam gives it) as an rsID."""
    if not rs:
        return None
    return f"rs{rs[0] if isinstance(rs, tuple) else rs}"


def _kind(info_id: str, description: str) -> str:
    if info_id == BCSQ:
        return "bcftools csq"
    return "VEP CSQ" if "Format:" in description else "SnpEff ANN"


def frequency_of(value) -> float | None:
    """An allele frequency, leniently: a header may type AF as String (or not declare it), and a
    value that is no frequency in [0, 1] is left empty rather than failing the file."""
    try:
        number = float(value.split(",")[0] if isinstance(value, str) else value)
    except (TypeError, ValueError):
        return None
    return number if 0.0 <= number <= 1.0 else None


def _choose_transcript(entries: list[dict[str, str]]) -> dict[str, str] | None:
    """MANE Select, then canonical, then the most severe impact and consequence."""
    if not entries:
        return None
    return min(
        entries,
        key=lambda e: (
            "mane" not in e,
            e.get("canonical") != "YES",
            IMPACT_RANK.get(e.get("impact", ""), 4),
            consequence_rank(e.get("consequence")),
            "gene_symbol" not in e,
        ),
    )


def _rsid(record, chosen, clinvar_rs) -> str | None:
    for token in (record.id or "").split(";"):
        if token.startswith("rs"):
            return token
    for t in chosen:
        for token in t.get("existing", "").split("&"):
            if token.startswith("rs"):
                return token
    return clinvar_rsid(clinvar_rs)
