"""The calls of a VCF's samples as rows: one per (sample, ALT the sample's GT holds), with genotype,
zygosity, depth, quality and the allele depths of that ALT, collected batch by batch; and the
file's cohort counts of each ALT (`cohort_counts`), from every sample.

A file of few samples (a family: `keep_all_calls_up_to`, 32 by default) also keeps a row for each
sample called homozygous reference or not called at all, so that "hom-ref" and "no call" can be asked
of it; a larger cohort keeps its carriers only and counts the rest. A sample holding only another
ALT of a multi-allelic site gets no row for this one.

Records that normalise to one variant merge their calls: a sample's first call wins, except that a
carrier's call replaces a reference or no-call row. The rows already held are looked up, only when a
repeat comes, in this batch's rows and in the batch before, which is held back until the next batch
is read (so a pair split by a batch boundary merges too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyarrow as pa
import pysam

from vcf_pipeline.lib.vcf.cohort_counts import record_counts

HETEROZYGOUS, HOMOZYGOUS, HEMIZYGOUS = "heterozygous", "homozygous", "hemizygous"
CARRIER_ZYGOSITIES = (HETEROZYGOUS, HOMOZYGOUS, HEMIZYGOUS)
HOM_REF, NO_CALL = "homozygous_reference", "no_call"
DEFAULT_KEEP_ALL_CALLS_UP_TO = 32


@dataclass(frozen=True)
class SampleOptions:
    """How a file's samples are stored: all calls kept up to this many samples; names prefixed by a
    source's namespace (`lab1:NA12878`) when two sources reuse sample names for different people."""

    keep_all_calls_up_to: int = DEFAULT_KEEP_ALL_CALLS_UP_TO
    namespace: str = ""

    def name(self, sample: str) -> str:
        return f"{self.namespace}:{sample}" if self.namespace else sample

CALL_SCHEMA = pa.schema(
    [
        ("sample", pa.string()),
        ("variant_id", pa.string()),
        ("gt", pa.string()),
        ("zygosity", pa.string()),
        ("dp", pa.int32()),
        ("gq", pa.int32()),
        ("ad", pa.list_(pa.int32())),
    ]
)


class CallRows:
    """The call rows of the batches of records being read. A batch's rows are held back until the
    next batch is done, so that a repeat of a variant (a record normalising to one seen in this batch
    or the one before) can still change them."""

    def __init__(self, samples: list[str], keep_all_calls_up_to: int = DEFAULT_KEEP_ALL_CALLS_UP_TO):
        self.samples = samples
        self.keep_all = len(samples) <= keep_all_calls_up_to
        self.columns: dict[str, list] = _empty_columns()
        self._previous: dict[str, list] | None = None
        # (variant id, sample) -> row, of this batch and the one before: built on the first repeat.
        self._index: dict[tuple[str, str], int] | None = None
        self._previous_index: dict[tuple[str, str], int] | None = None

    def add(
        self, record: pysam.VariantRecord, alleles: list[tuple[int, str]], repeats: list[tuple[int, str, bool]] = ()
    ) -> tuple[int, list[tuple[int, ...]]]:
        """Rows for the samples' calls of each (ALT index, variant id) of `alleles`; for `repeats`
        (ALT index, variant id, first seen in the batch before), rows for samples without a call yet,
        and a carrier's call in place of a reference or no-call row. Returns the rows added and the
        COUNTS of each of `alleles` (a repeat's count stays its first record's)."""
        values = record.samples.values()
        genotypes = [sample["GT"] for sample in values] if "GT" in record.format else [None] * len(values)
        counts = record_counts(genotypes, [i + 1 for i, _ in alleles])
        keys = set(record.format.keys())
        added = self._add(values, genotypes, alleles, keys) if alleles else 0
        for alt_index, variant_id, before in repeats:
            added += self._merge(variant_id, alt_index + 1, values, genotypes, keys, before)
        return added, counts

    def flush(self, final: bool = False) -> pa.RecordBatch:
        """The rows of the batch before (held back for repeats); with `final`, every row still held."""
        ready = self._previous
        if final:
            ready = self.columns if ready is None else {k: ready[k] + self.columns[k] for k in ready}
            self._previous = None
        else:
            self._previous = self.columns
        self.columns, self._previous_index, self._index = _empty_columns(), self._index, None
        return pa.RecordBatch.from_pydict(ready or _empty_columns(), schema=CALL_SCHEMA)

    def _add(self, values, genotypes, alleles: list[tuple[int, str]], keys: set) -> int:
        """Rows of the alleles' first records: the hot loop of a cohort file, so written out flat
        (a dict per row cost a third of a 120-sample parse)."""
        columns, index, keep_all, added = self.columns, self._index, self.keep_all, 0
        samples, ids, gts, zygosities, dps, gqs, ads = (columns[n] for n in CALL_SCHEMA.names)
        has_dp, has_gq, has_ad = "DP" in keys, "GQ" in keys, "AD" in keys
        for name, sample, gt in zip(self.samples, values, genotypes):
            if not gt:
                continue
            called = [a for a in gt if a is not None]
            text = None
            for alt_index, variant_id in alleles:
                allele = alt_index + 1
                if allele in called:
                    zygosity = HEMIZYGOUS if len(called) == 1 else HOMOZYGOUS if all(a == allele for a in called) else HETEROZYGOUS
                elif keep_all and not called:
                    zygosity = NO_CALL
                elif keep_all and all(a == 0 for a in called):
                    zygosity = HOM_REF
                else:
                    continue
                if index is not None:  # built by an earlier repeat: keep it whole
                    index[(variant_id, name)] = len(samples)
                if text is None:
                    text = ("|" if sample.phased else "/").join("." if a is None else str(a) for a in gt)
                samples.append(name)
                ids.append(variant_id)
                gts.append(text)
                zygosities.append(zygosity)
                dps.append(_first_int(sample["DP"]) if has_dp else None)
                gqs.append(_first_int(sample["GQ"]) if has_gq else None)
                ads.append(_allele_depths(sample["AD"], allele) if has_ad else None)
                added += 1
        return added

    def zygosity(self, gt, allele: int) -> str | None:
        """The zygosity of a call (GT tuple) for ALT number `allele`; None: no row is kept for it."""
        if not gt:
            return None
        called = [a for a in gt if a is not None]
        if allele in called:
            if len(called) == 1:
                return HEMIZYGOUS
            return HOMOZYGOUS if all(a == allele for a in called) else HETEROZYGOUS
        if self.keep_all and not called:
            return NO_CALL
        if self.keep_all and all(a == 0 for a in called):
            return HOM_REF
        return None

    def _merge(self, variant_id: str, allele: int, values, genotypes, keys: set, before: bool) -> int:
        current = self._index_of_current()
        previous = self._index_of_previous() if before else {}
        added = 0
        for name, sample, gt in zip(self.samples, values, genotypes):
            zygosity = self.zygosity(gt, allele)
            if not zygosity:
                continue
            key = (variant_id, name)
            columns, at = (self.columns, current[key]) if key in current else (self._previous, previous[key]) if key in previous else (None, None)
            if columns is None:
                current[key] = len(self.columns["sample"])
                _append(self.columns, _row(name, variant_id, sample, gt, zygosity, allele, keys))
                added += 1
            elif zygosity in CARRIER_ZYGOSITIES and columns["zygosity"][at] not in CARRIER_ZYGOSITIES:
                for column, value in _row(name, variant_id, sample, gt, zygosity, allele, keys).items():
                    columns[column][at] = value
        return added

    def _index_of_current(self) -> dict[tuple[str, str], int]:
        if self._index is None:
            self._index = {(v, s): i for i, (v, s) in enumerate(zip(self.columns["variant_id"], self.columns["sample"]))}
        return self._index

    def _index_of_previous(self) -> dict[tuple[str, str], int]:
        if self._previous is None:
            return {}
        if self._previous_index is None:
            self._previous_index = {(v, s): i for i, (v, s) in enumerate(zip(self._previous["variant_id"], self._previous["sample"]))}
        return self._previous_index


def _empty_columns() -> dict[str, list]:
    return {name: [] for name in CALL_SCHEMA.names}


def _row(name: str, variant_id: str, sample, gt, zygosity: str, allele: int, keys: set) -> dict:
    return {
        "sample": name,
        "variant_id": variant_id,
        "gt": ("|" if sample.phased else "/").join("." if a is None else str(a) for a in gt),
        "zygosity": zygosity,
        "dp": _first_int(sample["DP"]) if "DP" in keys else None,
        "gq": _first_int(sample["GQ"]) if "GQ" in keys else None,
        "ad": _allele_depths(sample["AD"], allele) if "AD" in keys else None,
    }


def _append(columns: dict[str, list], row: dict) -> None:
    for column, value in row.items():
        columns[column].append(value)


def _as_int(value) -> int | None:
    """A depth or quality as an int, leniently: a header that does not declare the field (htslib then
    reads it as a String) or a value that is no number gives None, never an error."""
    if isinstance(value, str):
        try:
            value = float(value.split(",")[0])
        except ValueError:
            return None
    if value is None or not math.isfinite(value) or not -(2**31) < value < 2**31:
        return None
    return int(round(value))


def _first_int(value) -> int | None:
    if isinstance(value, tuple):
        value = value[0] if value else None
    return _as_int(value)


def _allele_depths(ad, allele: int) -> list[int | None] | None:
    """[ref depth, depth of this ALT], as `bcftools norm -m-` writes AD for a split allele."""
    if isinstance(ad, str):
        ad = tuple(ad.split(","))
    if not isinstance(ad, tuple) or len(ad) <= allele:
        return None
    return [_as_int(ad[0]), _as_int(ad[allele])]
