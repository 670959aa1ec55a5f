"""The calls of a VCF's samples as rows: one per (sample, ALT the sample's GT holds), with genotype,
zygosity, depth, quality and the allele depths of that ALT, collected batch by batch; and the
file's cohort counts of each ALT (`cohort_counts`), from every sample.

A file of few samples (a family: `keep_all_calls_up_to`, 32 by default) also keeps a row for each
sample called homozygous reference or not called at all, so that "hom-ref" and "no call" can be asked
of it; a larger cohort keeps its carriers only and counts the rest. A sample holding only another
ALT of a multi-allelic site gets no row for this one.

Records that normalise to one variant merge their calls: a sample's first call wins. The samples
already holding a call are looked up, only when a repeat comes, in this batch's rows and in the
batch before (so a pair split by a batch boundary merges too).
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
    """The call rows of the current batch of records."""

    def __init__(self, samples: list[str], keep_all_calls_up_to: int = DEFAULT_KEEP_ALL_CALLS_UP_TO):
        self.samples = samples
        self.keep_all = len(samples) <= keep_all_calls_up_to
        self.columns: dict[str, list] = {name: [] for name in CALL_SCHEMA.names}
        self._carriers: dict[str, set[str]] | None = None  # variant id -> samples with a call (built on a repeat)
        self._previous: pa.RecordBatch | None = None
        self._previous_carriers: dict[str, set[str]] | None = None

    def add(
        self, record: pysam.VariantRecord, alleles: list[tuple[int, str]], repeats: list[tuple[int, str, bool]] = ()
    ) -> tuple[int, list[tuple[int, ...]]]:
        """Rows for the samples carrying each (ALT index, variant id) of `alleles`, and for `repeats`
        (ALT index, variant id, first seen in the batch before) only for samples without a call yet.
        Returns the rows added and the COUNTS of each of `alleles` (a repeat's count stays its first
        record's)."""
        if repeats:
            carriers = self._current_carriers()
            for _, variant_id, before in repeats:
                if before:
                    carriers.setdefault(variant_id, set()).update(self._carried_before(variant_id))
        values = record.samples.values()
        genotypes = [sample["GT"] for sample in values] if "GT" in record.format else [None] * len(values)
        counts = record_counts(genotypes, [i + 1 for i, _ in alleles])
        return self._add(record, values, genotypes, [*alleles, *((i, v) for i, v, _ in repeats)]), counts

    def flush(self) -> pa.RecordBatch:
        """The batch's rows; the next batch starts empty (this one kept for repeats across its end)."""
        batch = pa.RecordBatch.from_pydict(self.columns, schema=CALL_SCHEMA)
        for column in self.columns.values():
            column.clear()
        self._carriers, self._previous_carriers, self._previous = None, None, batch
        return batch

    def _current_carriers(self) -> dict[str, set[str]]:
        if self._carriers is None:
            self._carriers = {}
            for sample, variant_id in zip(self.columns["sample"], self.columns["variant_id"]):
                self._carriers.setdefault(variant_id, set()).add(sample)
        return self._carriers

    def _carried_before(self, variant_id: str) -> set[str]:
        if self._previous_carriers is None:
            self._previous_carriers = {}
            if self._previous is not None:
                samples, ids = (self._previous.column(name).to_pylist() for name in ("sample", "variant_id"))
                for sample, carried in zip(samples, ids):
                    self._previous_carriers.setdefault(carried, set()).add(sample)
        return self._previous_carriers.get(variant_id, set())

    def _add(self, record: pysam.VariantRecord, values: list, genotypes: list, alleles: list[tuple[int, str]]) -> int:
        keys = set(record.format.keys())
        carriers, columns, added = self._carriers, self.columns, 0
        for name, sample, gt in zip(self.samples, values, genotypes):
            if not gt:
                continue
            called = [a for a in gt if a is not None]
            for alt_index, variant_id in alleles:
                allele = alt_index + 1
                if allele in called:
                    if len(called) == 1:
                        zygosity = HEMIZYGOUS
                    elif all(a == allele for a in called):
                        zygosity = HOMOZYGOUS
                    else:
                        zygosity = HETEROZYGOUS
                elif self.keep_all and not called:
                    zygosity = NO_CALL
                elif self.keep_all and all(a == 0 for a in called):
                    zygosity = HOM_REF
                else:
                    continue
                if carriers is not None:
                    held = carriers.setdefault(variant_id, set())
                    if name in held:
                        continue
                    held.add(name)
                columns["sample"].append(name)
                columns["variant_id"].append(variant_id)
                columns["gt"].append(("|" if sample.phased else "/").join("." if a is None else str(a) for a in gt))
                columns["zygosity"].append(zygosity)
                columns["dp"].append(_first_int(sample["DP"]) if "DP" in keys else None)
                columns["gq"].append(_first_int(sample["GQ"]) if "GQ" in keys else None)
                columns["ad"].append(_allele_depths(sample["AD"], allele) if "AD" in keys else None)
                added += 1
        return added


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
