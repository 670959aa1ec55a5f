"""Which annotation a variant shows when several files hold it: a documented, deterministic merge.

Every file's own annotation of each variant it holds is kept (LanceDB `file_variants`, beside the
row saying the file holds the variant). A variant's columns in `variants` are merged from them:
- the transcript annotation (gene symbol and id, consequence, impact, HGVS c. and p.) comes whole
  from one file, the first that has one: VEP-annotated files, then SnpEff-annotated, then others;
- the ClinVar assertion (significance, review status, conditions) comes whole from the first file
  that has one;
- rsID, allele frequency, QUAL, FILTER and END each come from the first file that has a value.
"First" among files of equal rank is by partition key: the result never depends on the order in
which files were ingested, and retracting a file leaves exactly what the other files say.
Curated values (`lib/curations.py`) are applied on top of the merge.
The cohort counts are not chosen but summed: `cohort_ac` and `cohort_an` over every file holding the
variant (`cohort_counts`).
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from vcf_pipeline.lib.vcf.cohort_counts import COUNT_FIELDS, COUNTS, cohort_of
from vcf_pipeline.lib.vcf.reader import VARIANT_SCHEMA

TRANSCRIPT = ("gene_symbol", "gene_id", "consequence", "impact", "hgvs_c", "hgvs_p")
CLINVAR = ("clinical_significance", "clinvar_review_status", "conditions")
EACH = ("rsid", "allele_frequency", "qual", "filter", "end")
ANNOTATION = TRANSCRIPT + CLINVAR + EACH
OWN = ANNOTATION + COUNTS  # what a file says of a variant it holds
RANK = "transcript_rank"  # 0 VEP, 1 SnpEff, 2 other: the file's transcript annotation source

# What `file_variants` holds per (file, variant): ownership, the file's own annotation and counts.
FILE_VARIANTS_SCHEMA = pa.schema(
    [pa.field("partition_key", pa.string()), pa.field("variant_id", pa.string()), pa.field(RANK, pa.int8())]
    + [VARIANT_SCHEMA.field(c) for c in ANNOTATION]
    + COUNT_FIELDS
)


def transcript_rank(annotation_kinds: Iterable[str]) -> int:
    """A file's rank from the annotations its header declares (`ParseStats.annotation_kinds`)."""
    kinds = set(annotation_kinds)
    return 0 if "VEP CSQ" in kinds else 1 if "SnpEff ANN" in kinds else 2


def _present(value) -> bool:
    return value is not None and value != "" and value != []


def merge(rows: list[dict]) -> dict:
    """The merged annotation and cohort columns of one variant from its files' rows (`file_variants` rows)."""
    ordered = sorted(rows, key=lambda r: (r[RANK] if r[RANK] is not None else 2, r["partition_key"]))
    merged: dict = {}
    for group in (TRANSCRIPT, CLINVAR):
        source = next((r for r in ordered if any(_present(r.get(c)) for c in group)), None)
        merged.update({c: source.get(c) if source else None for c in group})
    for column in EACH:
        merged[column] = next((r.get(column) for r in ordered if _present(r.get(column))), None)
    merged.update(cohort_of(rows))
    return merged
