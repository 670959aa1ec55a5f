"""What one ingested file holds, summarised: consequence by impact, clinical significance, QUAL and
allele-frequency histograms, calls per sample by zygosity. From the file's own rows (`file_variants`,
`calls`), so it describes the file as it was parsed, not the merged store. The explorer's file page
draws it; the LanceDB step puts the counts into its materialisation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vcf_pipeline.lib.stores.variant_tables import CALLS, FILE_VARIANTS, sql_string

IMPACTS = ("HIGH", "MODERATE", "LOW", "MODIFIER")
AF_EDGES = (0.0, 0.0001, 0.001, 0.01, 0.05, 0.1, 0.5, 1.0)


@dataclass
class FileSummary:
    partition_key: str
    variants: int = 0
    consequence_by_impact: dict[str, dict[str, int]] = field(default_factory=dict)  # consequence -> impact -> n
    significance: dict[str, int] = field(default_factory=dict)
    qual_histogram: list[tuple[str, int]] = field(default_factory=list)  # (bin label, n)
    af_histogram: list[tuple[str, int]] = field(default_factory=list)
    calls_per_sample: dict[str, dict[str, int]] = field(default_factory=dict)  # sample -> zygosity -> n

    def consequence_rows(self, top: int = 12) -> list[dict]:
        """The most frequent consequences with their counts per impact (for a table)."""
        ranked = sorted(self.consequence_by_impact.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:top]
        return [{"consequence": c, **{i: by.get(i, 0) for i in (*IMPACTS, "none")}, "total": sum(by.values())} for c, by in ranked]


def summarise_file(store, partition_key: str) -> FileSummary:
    summary = FileSummary(partition_key)
    if FILE_VARIANTS not in store.table_names():
        return summary
    owned = f"partition_key = {sql_string(partition_key)}"
    rows = store.read(FILE_VARIANTS, ["consequence", "impact", "clinical_significance", "qual", "allele_frequency"], owned)
    summary.variants = rows.num_rows
    if rows.num_rows:
        first = pc.fill_null(pc.list_element(pc.split_pattern(pc.fill_null(rows["consequence"], "none"), "&"), 0), "none")
        impact = pc.fill_null(rows["impact"], "none")
        pairs = pa.table({"c": first, "i": impact}).group_by(["c", "i"]).aggregate([("c", "count")])
        for c, i, n in zip(pairs["c"].to_pylist(), pairs["i"].to_pylist(), pairs["c_count"].to_pylist()):
            summary.consequence_by_impact.setdefault(c, {})[i] = n
        significance = pa.table({"s": pc.fill_null(rows["clinical_significance"], "not in ClinVar")}).group_by("s").aggregate([("s", "count")])
        summary.significance = dict(sorted(zip(significance["s"].to_pylist(), significance["s_count"].to_pylist()), key=lambda kv: -kv[1]))
        summary.qual_histogram = _qual_bins(rows["qual"])
        summary.af_histogram = _af_bins(rows["allele_frequency"])
    if CALLS in store.table_names():
        calls = store.read(CALLS, ["sample", "zygosity"], owned)
        if calls.num_rows:
            counted = calls.group_by(["sample", "zygosity"]).aggregate([("sample", "count")])
            for s, z, n in zip(counted["sample"].to_pylist(), counted["zygosity"].to_pylist(), counted["sample_count"].to_pylist()):
                summary.calls_per_sample.setdefault(s, {})[z] = n
            summary.calls_per_sample = dict(sorted(summary.calls_per_sample.items()))
    return summary


def _qual_bins(values: pa.ChunkedArray, bins: int = 10) -> list[tuple[str, int]]:
    """`bins` equal-width bins from the lowest QUAL to the highest, then the missing and non-finite."""
    v = _floats(values)
    known = v[np.isfinite(v)]
    missing = len(v) - len(known)
    if not len(known):
        return [("no QUAL", missing)] if missing else []
    low, high = float(known.min()), float(known.max())
    width = (high - low) / bins or 1.0
    counts = np.bincount(np.minimum(((known - low) / width).astype(np.int64), bins - 1), minlength=bins)
    labelled = [(f"{low + i * width:.0f}-{low + (i + 1) * width:.0f}", int(n)) for i, n in enumerate(counts)]
    return labelled + ([("no QUAL", missing)] if missing else [])


def _af_bins(values: pa.ChunkedArray) -> list[tuple[str, int]]:
    """One bin per upper edge of AF_EDGES, a value in the first whose edge it does not pass (above
    1, in the last), then the missing and non-finite."""
    v = _floats(values)
    known = v[np.isfinite(v)]
    missing = len(v) - len(known)
    upper = np.array(AF_EDGES[1:])
    counts = np.bincount(np.minimum(np.searchsorted(upper, known, side="left"), len(upper) - 1), minlength=len(upper))
    labelled = [(f"<={AF_EDGES[i + 1]:g}", int(n)) for i, n in enumerate(counts)]
    return labelled + ([("no AF", missing)] if missing else [])


def _floats(values: pa.ChunkedArray) -> np.ndarray:
    """A float column as float64, missing values as NaN."""
    return pc.fill_null(values.cast(pa.float64()), float("nan")).to_numpy()
