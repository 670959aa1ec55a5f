"""The annotation columns of a batch of ALT rows at once, from the records' raw INFO text: the same
answers as `AnnotationReader.annotate` gives record by record (lib/vcf/annotations.py holds the
rules; this module applies them to whole columns).

Transcript entries (VEP CSQ, SnpEff ANN) are split into one table per field; each entry is paired
with the ALT rows of its record, kept when it is about that ALT (ALLELE_NUM, else the Allele, else
every entry of a single-ALT record), and the first by (MANE, canonical, impact, consequence, has a
symbol, entry order) is chosen per row by one sort. Values with few distinct texts (consequences,
ClinVar's) go through the per-record functions once per distinct text.
"""

from __future__ import annotations

from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vcf_pipeline.lib.vcf.annotations import (
    ANNOTATION_COLUMNS,
    FALLBACK_AF,
    IMPACT_RANK,
    AnnotationReader,
    TranscriptField,
    clinvar_conditions,
    clinvar_gene,
    clinvar_rsid,
    clinvar_text,
    consequence_rank,
    frequency_of,
    info_af_value,
    most_severe_mc,
    transcript_frequency,
)
from vcf_pipeline.lib.vcf.info_columns import (
    by_distinct,
    info_values,
    pysam_value,
    true_where,
)

TRANSCRIPT_COLUMNS = ("gene_symbol", "gene_id", "consequence", "impact", "hgvs_c", "hgvs_p")
_CLINVAR_KEYS = ("CLNSIG", "CLNREVSTAT", "CLNDN", "GENEINFO", "MC", "RS")
_PLAIN_NUMBER = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"


class AnnotationColumns:
    """Annotation columns for ALT rows, as `reader` (the file's AnnotationReader) would give them."""

    def __init__(self, reader: AnnotationReader, header):
        self.reader = reader
        self.meta = {key: (str(header.info[key].number), header.info[key].type) for key in reader.read_keys}

    def columns(self, info: pa.Array, rows: dict) -> dict[str, pa.Array]:
        """`rows`: numpy `record` (index into `info`), `alt_index`, `alts` (the record's ALT count) and
        Arrow `alt`, `vep_allele`, `id` (the record's ID text) per ALT row."""
        raw = info_values(info, self.reader.read_keys)
        record = pa.array(rows["record"])
        chosen = [self._chosen(field, raw[field.info_id], rows) for field in self.reader.transcript_fields]
        out = {}
        for name in TRANSCRIPT_COLUMNS:
            out[name] = _first_present([c[name] for c in chosen if name in c], len(record))
        clinvar = {key: raw[key].take(record) if key in raw else None for key in _CLINVAR_KEYS}
        out["clinical_significance"] = self._clinvar_column(clinvar["CLNSIG"], "CLNSIG", len(record))
        out["clinvar_review_status"] = self._clinvar_column(clinvar["CLNREVSTAT"], "CLNREVSTAT", len(record))
        out["conditions"] = self._conditions(clinvar["CLNDN"], len(record))
        self._gene_info(clinvar["GENEINFO"], out)
        self._molecular_consequence(clinvar["MC"], out)
        sig = _first_present([c["clin_sig"] for c in chosen if "clin_sig" in c], len(record))
        out["clinical_significance"] = pc.coalesce(
            out["clinical_significance"],
            by_distinct(sig, lambda s: s.replace("_", " ").replace("&", ", ") if s else None, pa.string()),
        )
        out["rsid"] = self._rsid(rows["id"], chosen, clinvar["RS"])
        out["allele_frequency"] = self._allele_frequency(raw, rows, chosen)
        return {name: out[name] for name in ANNOTATION_COLUMNS}

    def _chosen(self, field: TranscriptField, raw: pa.Array, rows: dict) -> dict[str, pa.Array]:
        """The chosen entry's values of one transcript field per row (null where none is about it)."""
        n = len(rows["record"])
        entries = pc.split_pattern(raw, ",")
        entry_record = pc.list_parent_indices(entries).to_numpy()
        texts = pc.list_flatten(entries)
        # Split no further than the last subfield read; one an entry lacks is absent, as in `TranscriptField._named`.
        top = max(field.index.values())
        parts = pc.split_pattern(texts, "|", max_splits=top + 1)
        starts, lengths, flat = parts.offsets.to_numpy()[:-1], pc.list_value_length(parts).to_numpy(), pc.list_flatten(parts)
        values = {name: _subfield(flat.take(pa.array(starts + i, mask=lengths <= i))) for name, i in field.index.items()}
        # Pair each entry with the rows of its record (rows of a record are consecutive).
        per_record = np.bincount(rows["record"], minlength=len(raw))
        first_row = np.concatenate([[0], np.cumsum(per_record)[:-1]])
        counts = per_record[entry_record]
        pair_entry = np.repeat(np.arange(len(entry_record)), counts)
        starts = np.repeat(first_row[entry_record], counts)
        pair_row = starts + (np.arange(len(pair_entry)) - np.repeat(np.cumsum(counts) - counts, counts))
        keep = self._about_row(field, values, pair_entry, pair_row, rows)
        pair_entry, pair_row = pair_entry[keep], pair_row[keep]
        order = np.lexsort(self._preference(values, pair_entry) + [pair_row])
        pair_entry, pair_row = pair_entry[order], pair_row[order]
        first = np.ones(len(pair_row), dtype=bool)
        first[1:] = pair_row[1:] != pair_row[:-1]
        best = np.full(n, -1, dtype=np.int64)
        best[pair_row[first]] = pair_entry[first]
        index = pa.array(best, mask=best < 0)
        return {name: column.take(index) for name, column in values.items()}

    @staticmethod
    def _about_row(field, values, pair_entry, pair_row, rows) -> np.ndarray:
        """Which (entry, row) pairs are about the row's ALT, as `TranscriptField.for_allele` decides."""
        n = len(rows["record"])
        decided = np.zeros(n, dtype=bool)
        keep = np.zeros(len(pair_entry), dtype=bool)
        if "allele_num" in field.index:
            wanted = pa.array((rows["alt_index"] + 1).astype(str)).take(pa.array(pair_row))
            match = true_where(pc.equal(values["allele_num"].take(pa.array(pair_entry)), wanted))
            decided = np.bincount(pair_row[match], minlength=n) > 0
            keep |= match
        if "allele" in field.index:
            allele = values["allele"].take(pa.array(pair_entry))
            taken = pa.array(pair_row)
            match = true_where(pc.equal(allele, rows["alt"].take(taken))) | true_where(pc.equal(allele, rows["vep_allele"].take(taken)))
            match &= ~decided[pair_row]
            by_allele = np.bincount(pair_row[match], minlength=n) > 0
            keep |= match
            decided |= by_allele
        # Entries that name no allele we know can only be about a record's single ALT.
        keep |= ~decided[pair_row] & (rows["alts"][pair_row] == 1)
        return keep

    @staticmethod
    def _preference(values: dict, pair_entry: np.ndarray) -> list[np.ndarray]:
        """Sort keys, least significant first, as `_choose_transcript` orders entries."""
        taken = pa.array(pair_entry)

        def absent(name):
            return np.ones(len(pair_entry), dtype=bool) if name not in values else pc.is_null(values[name].take(taken)).to_numpy(zero_copy_only=False)

        def ranked(name, rank):
            if name not in values:
                return np.full(len(pair_entry), rank(None))
            return by_distinct(values[name].take(taken), rank, pa.int32()).to_numpy(zero_copy_only=False)

        canonical = ranked("canonical", lambda v: 0 if v == "YES" else 1)
        impact = ranked("impact", lambda v: IMPACT_RANK.get(v or "", 4))
        consequence = ranked("consequence", consequence_rank)
        return [pair_entry, absent("gene_symbol"), consequence, impact, canonical, absent("mane")]

    def _decoded(self, key: str):
        number, kind = self.meta[key]
        return lambda raw: pysam_value(raw, number, kind)

    def _clinvar_column(self, raw: pa.Array | None, key: str, n: int) -> pa.Array:
        if raw is None:
            return pa.nulls(n, pa.string())
        decode = self._decoded(key)
        return by_distinct(raw, lambda v: clinvar_text(decode(v)), pa.string())

    def _conditions(self, raw: pa.Array | None, n: int) -> pa.Array:
        if raw is None:
            return pa.nulls(n, pa.list_(pa.string()))
        decode = self._decoded("CLNDN")
        return by_distinct(raw, lambda v: clinvar_conditions(decode(v)), pa.list_(pa.string()))

    def _gene_info(self, raw: pa.Array | None, out: dict) -> None:
        """ClinVar's GENEINFO fills the gene where no transcript named a symbol."""
        if raw is None:
            return
        decode = self._decoded("GENEINFO")

        def gene(value):
            value = decode(value)
            if not value:
                return None
            symbol, gene_id = clinvar_gene(value)
            return {"symbol": symbol, "id": gene_id}

        found = by_distinct(raw, gene, pa.struct([("symbol", pa.string()), ("id", pa.string())]))
        use = pc.and_kleene(pc.is_null(out["gene_symbol"]), pc.is_valid(found))
        out["gene_id"] = pc.if_else(use, pc.coalesce(out["gene_id"], pc.struct_field(found, "id")), out["gene_id"])
        out["gene_symbol"] = pc.if_else(use, pc.struct_field(found, "symbol"), out["gene_symbol"])

    def _molecular_consequence(self, raw: pa.Array | None, out: dict) -> None:
        """ClinVar's MC fills the consequence where no transcript gave one: its most severe term."""
        if raw is None:
            return
        decode = self._decoded("MC")
        worst = by_distinct(raw, lambda v: most_severe_mc(mc) if (mc := decode(v)) else None, pa.string())
        out["consequence"] = pc.coalesce(out["consequence"], worst)

    def _rsid(self, ids: pa.Array, chosen: list[dict], rs_raw: pa.Array | None) -> pa.Array:
        """The ID's rs token, else a transcript's Existing_variation rs token, else ClinVar's RS."""
        candidates = [_first_token(ids, ";")]
        candidates += [_first_token(c["existing"], "&") for c in chosen if "existing" in c]
        if rs_raw is not None:
            decode = self._decoded("RS")
            candidates.append(by_distinct(rs_raw, lambda v: clinvar_rsid(decode(v)), pa.string()))
        return pc.coalesce(*candidates)

    def _allele_frequency(self, raw: dict, rows: dict, chosen: list[dict]) -> pa.Array:
        """As `AnnotationReader._allele_frequency`: the first source with a value decides."""
        n = len(rows["record"])
        record = pa.array(rows["record"])
        result, valid, decided = np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)

        def stage(values: pa.Array, present: np.ndarray) -> None:
            nonlocal decided
            new = present & ~decided
            result[new] = values.to_numpy(zero_copy_only=False)[new]
            valid[new] = true_where(pc.is_valid(values))[new]
            decided |= present

        if "AF" in raw:
            stage(*self._info_af(raw["AF"].take(record), rows["alt_index"]))
        for c in chosen:
            if "af" in c:
                found = _transcript_frequencies(c["af"])
                stage(found, true_where(pc.is_valid(found)))
        for key in FALLBACK_AF:
            if key in raw:
                decode = self._decoded(key)
                value = by_distinct(raw[key], lambda v, d=decode: frequency_of(x) if (x := d(v)) is not None else None, pa.float64()).take(record)
                stage(value, true_where(pc.is_valid(raw[key].take(record))) & self._decodes_to_value(raw[key].take(record), decode))
        return pa.array(result, pa.float64(), mask=~valid)

    def _info_af(self, texts: pa.Array, alt_index: np.ndarray) -> tuple[pa.Array, np.ndarray]:
        """Each row's INFO AF frequency and whether the record gives a value (`info_af_value`)."""
        number, kind = self.meta["AF"]
        if kind != "Float":
            decode, per_allele = self._decoded("AF"), self.reader.af_per_allele
            values = [info_af_value(decode(t), i, per_allele) for t, i in zip(texts.to_pylist(), alt_index.tolist())]
            return pa.array([frequency_of(v) if v is not None else None for v in values], pa.float64()), np.array([v is not None for v in values], dtype=bool)
        # A Float AF: this ALT's element when Number=A (and the record has it), else the first.
        per_allele = self.reader.af_per_allele
        elements = pc.split_pattern(texts, ",")
        lengths = pc.fill_null(pc.list_value_length(elements), 0).to_numpy()
        valid = lengths > 0
        index = elements.offsets.to_numpy()[:-1] + np.where(per_allele & (alt_index < lengths), alt_index, 0)
        element = pc.list_flatten(elements).take(pa.array(np.where(valid, index, 0), mask=~valid)) if valid.any() else pa.nulls(len(texts), pa.string())
        plain = true_where(pc.match_substring_regex(element, _PLAIN_NUMBER))
        float32 = pc.cast(pc.cast(pc.if_else(pa.array(plain), element, pa.scalar(None, pa.string())), pa.float64()), pa.float32())
        values = float32.cast(pa.float64())  # as htslib stores a Float; null where not a plain number
        present = plain.copy()
        odd = np.flatnonzero(valid & ~plain & true_where(pc.not_equal(element, ".")))  # " 1", "1_0", "inf": Python's reading
        if len(odd):
            read = [pysam_value(text, "1", "Float") for text in element.take(pa.array(odd)).to_pylist()]
            present[odd] = [v is not None for v in read]
            values = pc.replace_with_mask(values, pa.array(np.isin(np.arange(len(values)), odd)), pa.array(read, pa.float64()))
        in_range = pc.and_(pc.greater_equal(values, 0.0), pc.less_equal(values, 1.0))
        return pc.if_else(in_range, values, pa.scalar(None, pa.float64())), present

    @staticmethod
    def _decodes_to_value(raw: pa.Array, decode) -> np.ndarray:
        return by_distinct(raw, lambda v: decode(v) is not None, pa.bool_()).fill_null(False).to_numpy(zero_copy_only=False)


def _transcript_frequencies(texts: pa.Array) -> pa.Array:
    """`transcript_frequency` of each text: plain numbers cast by Arrow (the same double as Python's
    `float`), the rest (`inf`, ` 1`, `1_0`) by Python, once per distinct text."""
    first = pc.list_element(pc.split_pattern(texts, "&", max_splits=1), 0)
    plain = pc.fill_null(pc.match_substring_regex(first, _PLAIN_NUMBER), False)
    numbers = pc.cast(pc.if_else(plain, first, pa.scalar(None, pa.string())), pa.float64())
    others = pc.and_(pc.invert(plain), pc.is_valid(texts))
    if not pc.any(others).as_py():
        return numbers
    return pc.if_else(others, by_distinct(pc.if_else(others, texts, pa.scalar(None, pa.string())), transcript_frequency, pa.float64()), numbers)


def _subfield(texts: pa.Array) -> pa.Array:
    """One subfield's texts (null where an entry lacks it), stripped, empty as null, %-escapes decoded
    as `_named` does."""
    value = pc.utf8_trim_whitespace(texts)
    value = pc.if_else(pc.equal(value, ""), pa.scalar(None, pa.string()), value)
    escaped = pc.fill_null(pc.match_substring(value, "%"), False)
    if pc.any(escaped).as_py():
        value = pc.if_else(escaped, by_distinct(value, lambda v: unquote(v) if v else v, pa.string()), value)
    return value


def _first_present(columns: list[pa.Array], n: int) -> pa.Array:
    return pc.coalesce(*columns) if columns else pa.nulls(n, pa.string())


def _first_token(texts: pa.Array, separator: str) -> pa.Array:
    """The first `rs…` token of each text split on `separator` (null where none)."""
    found = pc.extract_regex(texts, f"(?:^|{separator})(?P<rs>rs[^{separator}]*)")
    return pc.struct_field(found, "rs")
