"""What parsing a VCF produces, whichever reader read it (lib/vcf/reader.py record by record,
lib/vcf/text_columns.py column-wise): the variant rows' schema (the stores' too), the file's counts
and stats, and the variant type of an allele pair."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from vcf_pipeline.lib.vcf.cohort_counts import COHORT_FIELDS, COUNT_FIELDS
from vcf_pipeline.lib.vcf.identity import IdentityStats

# ALTs that are no variant: a gVCF reference block's, and no ALT at all (counted, never stored) ...
REFERENCE_ALLELES = frozenset({"<NON_REF>", "<*>", "."})
STAR_ALLELE = "*"  # ... and an allele deleted upstream (counted, never stored)

VARIANT_SCHEMA = pa.schema(
    [
        ("variant_id", pa.string()),
        ("assembly", pa.string()),
        ("chrom", pa.string()),
        ("pos", pa.int64()),
        ("end", pa.int64()),
        ("ref", pa.string()),
        ("alt", pa.string()),
        ("variant_type", pa.string()),
        ("rsid", pa.string()),
        ("gene_symbol", pa.string()),
        ("gene_id", pa.string()),
        ("consequence", pa.string()),
        ("impact", pa.string()),
        ("hgvs_c", pa.string()),
        ("hgvs_p", pa.string()),
        ("clinical_significance", pa.string()),
        ("clinvar_review_status", pa.string()),
        ("conditions", pa.list_(pa.string())),
        ("allele_frequency", pa.float64()),
        ("qual", pa.float64()),
        ("filter", pa.string()),
        *COHORT_FIELDS,
    ]
)
# What a parse writes: the variant columns, with the file's own cohort figures, and its counts.
PARSED_SCHEMA = pa.schema([*VARIANT_SCHEMA, *COUNT_FIELDS])


@dataclass
class ParseStats:
    """What parsing one file found."""

    records: int = 0
    variants: int = 0
    reference_blocks: int = 0
    star_alleles: int = 0
    duplicate_variants: int = 0  # ALTs that were, or normalised to, a variant seen before in the file
    calls: int = 0
    samples: list[str] = field(default_factory=list)
    annotation_kinds: list[str] = field(default_factory=list)
    file_format: str = ""
    telomere_records: int = 0  # POS 0: the specification's telomere marker, not a variant to store
    bad_records_skipped: int = 0
    bad_record_examples: list[str] = field(default_factory=list)  # the first few, with their reasons
    identity: IdentityStats = field(default_factory=IdentityStats)
    annotation_source: str = ""  # set when the file brought no annotation: what annotated it, or why nothing did
    reading: str = ""  # "column-wise", or "record by record: why" (lib/vcf/text_columns.py)


@dataclass
class ParsedBatch:
    variants: pa.RecordBatch
    calls: pa.RecordBatch


def classify_variant(ref: str, alt: str) -> str:
    """SNV, MNV, INS, DEL, INDEL, SV (symbolic allele) or BND (breakend)."""
    if "[" in alt or "]" in alt or (len(alt) > 1 and (alt.startswith(".") or alt.endswith("."))):
        return "BND"
    if alt.startswith("<"):
        return "SV"
    if len(ref) == len(alt):
        return "SNV" if len(ref) == 1 else "MNV"
    if len(ref) < len(alt) and alt.startswith(ref):
        return "INS"
    if len(ref) > len(alt) and ref.startswith(alt):
        return "DEL"
    return "INDEL"
