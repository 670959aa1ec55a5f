"""What one ingested file holds, summarised: consequence by impact, clinical significance, QUAL and
allele-frequency histograms, calls per sample by zygosity. From the file's own rows (`file_variants`,
`calls`), so it describes the file as it was parsed, not the merged store. The explorer's file page
draws it; the LanceDB step puts the counts into its materialisation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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
        summary.qual_histogram = _qual_bins(rows["qual"].to_pylist())
        summary.af_histogram = _af_bins(rows["allele_frequency"].to_pylist())
    if CALLS in store.table_names():
        calls = store.read(CALLS, ["sample", "zygosity"], owned)
        if calls.num_rows:
            counted = calls.group_by(["sample", "zygosity"]).aggregate([("sample", "count")])
            for s, z, n in zip(counted["sample"].to_pylist(), counted["zygosity"].to_pylist(), counted["sample_count"].to_pylist()):
                summary.calls_per_sample.setdefault(s, {})[z] = n
            summary.calls_per_sample = dict(sorted(summary.calls_per_sample.items()))
    return summary


def _qual_bins(values: list[float | None], bins: int = 10) -> list[tuple[str, int]]:
    known = [v for v in values if v is not None and math.isfinite(v)]
    missing = len(values) - len(known)
    if not known:
        return [("no QUAL", missing)] if missing else []
    low, high = min(known), max(known)
    width = (high - low) / bins or 1.0
    counts = [0] * bins
    for v in known:
        counts[min(int((v - low) / width), bins - 1)] += 1
    labelled = [(f"{low + i * width:.0f}-{low + (i + 1) * width:.0f}", n) for i, n in enumerate(counts)]
    return labelled + ([("no QUAL", missing)] if missing else [])


def _af_bins(values: list[float | None]) -> list[tuple[str, int]]:
    counts = [0] * (len(AF_EDGES) - 1)
    missing = 0
    for v in values:
        if v is None or not math.isfinite(v):
            missing += 1
            continue
        for i in range(len(counts)):
            if v <= AF_EDGES[i + 1] or i == len(counts) - 1:
                counts[i] += 1
                break
    labelled = [(f"<={AF_EDGES[i + 1]:g}", n) for i, n in enumerate(counts)]
    return labelled + ([("no AF", missing)] if missing else [])
