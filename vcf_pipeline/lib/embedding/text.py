"""The short text embedded for each variant, built from its annotations rather than its coordinates.

Coordinates would dominate the vector and are filterable columns anyway. So are the allele
frequency and the rsID, which the text leaves out: they cost a quarter of its tokens (embedding time
grows with tokens) and carry no meaning a vector can use. Example:
`BRCA1 p.Arg1699Gln: missense_variant (MODERATE); SNV; ClinVar Pathogenic (single submitter) for
Hereditary breast ovarian cancer`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

_MAX_ALLELE_IN_TEXT = 12
# The columns `describe_variant` reads, in `_describe`'s order (the embedding step reads no others; a
# row whose columns did not change keeps its text).
DESCRIBED_COLUMNS = ("gene_symbol", "hgvs_p", "hgvs_c", "consequence", "impact", "variant_type", "ref", "alt",
                     "clinical_significance", "clinvar_review_status", "conditions")


def _short_hgvs(value: str | None) -> str | None:
    """`ENST0001.2:c.76A>T` -> `c.76A>T`; protein changes drop nothing else."""
    if not value:
        return None
    return value.rsplit(":", 1)[-1]


def _alleles(ref: str, alt: str, variant_type: str) -> str:
    if variant_type in ("SV", "BND"):
        return alt if len(alt) <= 40 else alt[:40] + "..."
    if len(ref) <= _MAX_ALLELE_IN_TEXT and len(alt) <= _MAX_ALLELE_IN_TEXT:
        return f"{ref}>{alt}"
    return f"{len(ref)} bp > {len(alt)} bp"


def _short_review(status: str) -> str:
    """ClinVar review status in a few words: `criteria provided, multiple submitters, no conflicts`
    -> `multiple submitters`, `reviewed by expert panel` -> `expert panel`."""
    status = status.removeprefix("criteria provided, ").removesuffix(", no conflicts")
    return {"reviewed by expert panel": "expert panel", "no assertion criteria provided": "no criteria"}.get(status, status)


def describe_variant(v: Mapping) -> str:
    """The text for one variant row (a mapping with the `variants` columns)."""
    return _describe(*(v.get(c) for c in DESCRIBED_COLUMNS))


def describe_batch(batch) -> list[str]:
    """`describe_variant` of every row of an Arrow batch or table, read column by column (a dict per
    row cost more than the describing: 4.9 of 8.5 s for 1M rows)."""
    columns = [batch.column(c).to_pylist() if c in batch.schema.names else [None] * batch.num_rows for c in DESCRIBED_COLUMNS]
    return [_describe(*row) for row in zip(*columns)]


def _describe(gene, hgvs_p, hgvs_c, consequence, impact, variant_type, ref, alt, significance, review_status, conditions) -> str:
    """The text from the `DESCRIBED_COLUMNS`, in their order."""
    change = _short_hgvs(hgvs_p) or _short_hgvs(hgvs_c)
    head = " ".join(filter(None, (gene, change)))
    effect = consequence
    if effect:
        effect = effect.replace("&", ", ")
        if impact:
            effect = f"{effect} ({impact})"
    kind = variant_type or "variant"
    typed = f"{kind} {_alleles(ref or '', alt or '', variant_type or '')}"
    parts = [f"{head}: {effect}" if head and effect else head or effect or typed]
    if head or effect:
        parts.append(kind if change else typed)  # an HGVS change already names the alleles
    if significance:
        clinvar = f"ClinVar {significance}"
        if review_status:
            clinvar += f" ({_short_review(review_status)})"
        if conditions:
            clinvar += " for " + ", ".join(conditions[:2])
        parts.append(clinvar)
    return "; ".join(parts)


def text_hash(text: str) -> str:
    """Stable key of a text: the cache of embeddings is keyed by (text_hash, model)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

