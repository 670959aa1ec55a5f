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

import pyarrow as pa
import pyarrow.compute as pc

_MAX_ALLELE_IN_TEXT = 12
_MAX_SV_ALT_IN_TEXT = 40  # a structural ALT (`<DEL>`, a breakend) is written, up to this many characters
_REVIEW_WORDS = {"reviewed by expert panel": "expert panel", "no assertion criteria provided": "no criteria"}
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
        return alt if len(alt) <= _MAX_SV_ALT_IN_TEXT else alt[:_MAX_SV_ALT_IN_TEXT] + "..."
    if len(ref) <= _MAX_ALLELE_IN_TEXT and len(alt) <= _MAX_ALLELE_IN_TEXT:
        return f"{ref}>{alt}"
    return f"{len(ref)} bp > {len(alt)} bp"


def _short_review(status: str) -> str:
    """ClinVar review status in a few words: `criteria provided, multiple submitters, no conflicts`
    -> `multiple submitters`, `reviewed by expert panel` -> `expert panel`."""
    status = status.removeprefix("criteria provided, ").removesuffix(", no conflicts")
    return _REVIEW_WORDS.get(status, status)


def describe_variant(v: Mapping) -> str:
    """The text for one variant row (a mapping with the `variants` columns)."""
    return _describe(*(v.get(c) for c in DESCRIBED_COLUMNS))


def describe_batch(batch) -> list[str]:
    """`describe_variant` of every row of an Arrow batch or table, in Arrow compute a column at a
    time (Python per row cost 11 us a row: 1.1 s of a 100k re-ingest). Empty strings count as
    missing, as they do in `_describe`."""
    rows = batch.num_rows

    def column(name: str) -> pa.Array:
        if name not in batch.schema.names:
            return pa.nulls(rows, pa.string())
        values = batch.column(name)
        values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        return values if name == "conditions" else _present(values.cast(pa.string()))

    gene, variant_type = column("gene_symbol"), column("variant_type")
    change = pc.coalesce(_present(_after_colon(column("hgvs_p"))), _present(_after_colon(column("hgvs_c"))))
    head = pc.coalesce(_joined(gene, " ", change), gene, change)
    effect = pc.replace_substring(column("consequence"), "&", ", ")
    effect = pc.coalesce(_joined(effect, " (", column("impact"), ")"), effect)
    kind = pc.coalesce(variant_type, pa.scalar("variant"))
    typed = _joined(kind, " ", _alleles_column(column("ref"), column("alt"), variant_type))
    named = pc.or_(pc.is_valid(head), pc.is_valid(effect))
    parts = [
        pc.coalesce(_joined(head, ": ", effect), head, effect, typed),
        pc.if_else(named, pc.if_else(pc.is_valid(change), kind, typed), pa.scalar(None, pa.string())),
        _joined("ClinVar ", column("clinical_significance"), _or_empty(_joined(" (", _short_review_column(column("clinvar_review_status")), ")")),
                _or_empty(_joined(" for ", _first_two(column("conditions"))))),
    ]
    return _joined(parts[0], _or_empty(_joined("; ", parts[1])), _or_empty(_joined("; ", parts[2]))).to_pylist()


def _joined(*parts) -> pa.Array:
    """The parts end to end; null where any part is null."""
    return pc.binary_join_element_wise(*parts, "")


def _present(values: pa.Array) -> pa.Array:
    """`values` with empty strings as nulls: both are missing to `_describe`."""
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def _or_empty(values: pa.Array) -> pa.Array:
    return pc.fill_null(values, "")


def _after_colon(values: pa.Array) -> pa.Array:  # `_short_hgvs`
    return pc.replace_substring_regex(values, "^.*:", "")


def _alleles_column(ref: pa.Array, alt: pa.Array, variant_type: pa.Array) -> pa.Array:  # `_alleles`
    ref, alt = _or_empty(ref), _or_empty(alt)
    ref_length, alt_length = pc.utf8_length(ref), pc.utf8_length(alt)
    cut = _joined(pc.utf8_slice_codeunits(alt, 0, _MAX_SV_ALT_IN_TEXT), "...")
    structural = pc.if_else(pc.less_equal(alt_length, _MAX_SV_ALT_IN_TEXT), alt, cut)
    short = pc.and_(pc.less_equal(ref_length, _MAX_ALLELE_IN_TEXT), pc.less_equal(alt_length, _MAX_ALLELE_IN_TEXT))
    lengths = _joined(ref_length.cast(pa.string()), " bp > ", alt_length.cast(pa.string()), " bp")
    small = pc.if_else(short, _joined(ref, ">", alt), lengths)
    return pc.if_else(pc.fill_null(pc.is_in(variant_type, value_set=pa.array(["SV", "BND"])), False), structural, small)


def _short_review_column(status: pa.Array) -> pa.Array:  # `_short_review`
    status = pc.replace_substring_regex(pc.replace_substring_regex(status, "^criteria provided, ", ""), ", no conflicts$", "")
    for long, short in _REVIEW_WORDS.items():
        status = pc.if_else(pc.equal(status, long), pa.scalar(short), status)
    return status


def _first_two(conditions: pa.Array) -> pa.Array:
    """`", ".join(conditions[:2])`; null for no conditions."""
    if not pa.types.is_list(conditions.type):  # no such column
        return pa.nulls(len(conditions), pa.string())
    listed = pc.greater(pc.fill_null(pc.list_value_length(conditions), 0), 0)
    return pc.if_else(listed, pc.binary_join(pc.list_slice(conditions, 0, 2), ", "), pa.scalar(None, pa.string()))


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

