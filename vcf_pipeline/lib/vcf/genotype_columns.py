"""The calls and cohort counts of a batch of records at once, from `bcftools query` (pysam's, in a
child process) printing one line per record and sample: GT, DP, GQ, AD. The same rows and counts as
`CallRows` gives record by record (lib/vcf/calls.py holds the rules).

A cohort has few distinct genotype texts, so each is decoded once, by pysam itself (a one-record
VCF holding them), into its alleles and phasing; zygosity per (genotype, allele) and the counts
(`record_counts` of each genotype alone) become small tables indexed by numpy. A record that repeats
a variant (an unnormalised duplicate) merges its calls through `CallRows` as before, on the rows of
this batch and the one before, turned into lists only then.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as csv
import pysam

from vcf_pipeline.lib.vcf.calls import (
    CALL_SCHEMA,
    HEMIZYGOUS,
    HETEROZYGOUS,
    HOM_REF,
    HOMOZYGOUS,
    NO_CALL,
    CallRows,
)
from vcf_pipeline.lib.vcf.cohort_counts import record_counts

GENOTYPE_FIELDS = ("GT", "DP", "GQ", "AD")
FIELD_TYPES = {"GT": "String", "DP": "Integer", "GQ": "Integer", "AD": "Integer"}
CALLS_PER_BATCH = 250_000  # (record, sample) lines a batch of a cohort holds at most
ZYGOSITIES = (None, HETEROZYGOUS, HOMOZYGOUS, HEMIZYGOUS, NO_CALL, HOM_REF)  # codes 0..5
_NUMBER = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"


def genotype_refusal(header, formats_used) -> str | None:
    """Why this file's calls must be read record by record (None: they can be read here).
    `formats_used()` gives the FORMAT keys the records use; it is asked only when a field is not
    declared (bcftools cannot print such a field; pysam reads it as text)."""
    undeclared = [name for name in GENOTYPE_FIELDS if name not in header.formats]
    for name in GENOTYPE_FIELDS:
        if name in header.formats and header.formats[name].type != FIELD_TYPES[name]:
            return f"FORMAT {name} is {header.formats[name].type}, not {FIELD_TYPES[name]}"
    if undeclared and (used := set(undeclared) & formats_used()):
        return f"FORMAT {', '.join(sorted(used))} is used but not declared in the header"
    return None


class GenotypeQueryFailed(RuntimeError):
    """bcftools query could not print the calls (its own message)."""


_QUERY = "import sys, pysam.bcftools\npysam.bcftools.query('-f', sys.argv[1], '-o', '/dev/stdout', sys.argv[2], catch_stdout=False)"
_LINES_BLOCK_BYTES = 1 << 20


class GenotypeQuery:
    """Every record's samples' GT, DP, GQ and AD (`.` for one the header does not declare), one line
    per (record, sample), printed by pysam's bcftools in a child process (it holds the GIL while it
    runs, so in this process it could not overlap the reading of the text) and read from its pipe
    while it prints."""

    def __init__(self, path: Path, header, folder: Path):
        fields = "\t".join(f"%{name}" if name in header.formats else "." for name in GENOTYPE_FIELDS)
        self._said = folder / "query-errors.txt"  # a file, not a pipe: a child that warns a lot never blocks on it
        with open(self._said, "wb") as said:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _QUERY, f"[{fields}\n]", str(path)],
                stdout=subprocess.PIPE, stderr=said, start_new_session=True,
            )
        self._lines = GenotypeLines(self._process.stdout)
        self.error: GenotypeQueryFailed | None = None

    def lines(self) -> GenotypeLines:
        """The printed lines, taken as they come."""
        return self._lines

    def failed(self) -> bool:
        """Whether the query failed (htslib refused a record, or bcftools could not print): `error` says
        why. Reads whatever lines are left, so the query can finish."""
        if self._process.returncode is None:
            try:
                self._lines.drain()
            except pa.ArrowInvalid:  # a line Arrow cannot split: the query cannot be trusted
                self.stop()
            if self._process.wait() != 0:
                said = self._said.read_text(errors="replace").strip().splitlines()
                self.error = GenotypeQueryFailed(said[-1] if said else f"bcftools query exited with {self._process.returncode}")
        return self.error is not None

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()  # SIGKILL: a child may ignore SIGTERM here
            self._process.wait()
        self._process.stdout.close()


class GenotypeLines:
    """The query's lines, taken a batch of records at a time."""

    def __init__(self, stream):
        self._stream = stream
        self._lines = None
        self._held = pa.Table.from_batches([], schema=pa.schema([(name, pa.string()) for name in GENOTYPE_FIELDS]))

    def _open(self):
        """Arrow's reader, opened at the first take: opening waits for the first block of lines."""
        if self._lines is None and self._stream is not None:
            try:
                self._lines = csv.open_csv(
                    pa.PythonFile(self._stream, mode="r"),
                    read_options=csv.ReadOptions(column_names=list(GENOTYPE_FIELDS), block_size=_LINES_BLOCK_BYTES),
                    parse_options=csv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False),
                    convert_options=csv.ConvertOptions(column_types=dict.fromkeys(GENOTYPE_FIELDS, pa.string()), null_values=[], strings_can_be_null=False),
                )
            except pa.ArrowInvalid as exc:
                if "Empty CSV file" not in str(exc):
                    raise
            self._stream = None
        return self._lines

    def take(self, count: int) -> pa.RecordBatch:
        """The next `count` lines (fewer only at the end of the file)."""
        parts = [self._held]
        held = self._held.num_rows
        while held < count and (lines := self._open()) is not None:
            try:
                batch = lines.read_next_batch()
            except StopIteration:
                self._lines = None
                break
            parts.append(pa.Table.from_batches([batch]))
            held += batch.num_rows
        table = pa.concat_tables(parts)
        self._held = table.slice(count)
        taken = table.slice(0, count).combine_chunks()
        return taken.to_batches()[0] if taken.num_rows else pa.RecordBatch.from_pylist([], schema=table.schema)

    def drain(self) -> None:
        """Read and drop every line not yet taken."""
        while self.take(CALLS_PER_BATCH).num_rows:
            pass


class Genotypes:
    """Distinct GT texts decoded by pysam: alleles, phasing and the stored text."""

    def __init__(self):
        self.known: dict[str, tuple[tuple | None, str | None]] = {}

    def decode(self, texts: list[str]) -> None:
        new = [t for t in texts if t not in self.known]
        if not new:
            return
        alts = max([int(a) for t in new for a in t.replace("|", "/").split("/") if a.isdigit()] + [1])
        with tempfile.TemporaryDirectory(prefix="vcf-gt-") as folder:
            path = Path(folder) / "genotypes.vcf"
            samples = [f"s{i}" for i in range(len(new))]
            path.write_text(
                "##fileformat=VCFv4.3\n##contig=<ID=c>\n"
                '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
                + "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]) + "\n"
                + "\t".join(["c", "1", ".", "A", ",".join(["C"] * alts), ".", ".", ".", "GT", *new]) + "\n"
            )
            with pysam.VariantFile(str(path)) as vcf:
                record = next(iter(vcf))
                for text, sample in zip(new, record.samples.values()):
                    gt = sample["GT"]
                    stored = ("|" if sample.phased else "/").join("." if a is None else str(a) for a in gt) if gt else None
                    self.known[text] = (gt, stored)


def first_numbers(texts: pa.Array) -> pa.Array:
    """`_first_int` of each text: its first comma-separated value as an int32, rounded; else null."""
    try:  # the usual case, integers and `.`: one cast
        return pc.cast(pc.if_else(pc.equal(texts, "."), pa.scalar(None, pa.string()), texts), pa.int32())
    except pa.ArrowInvalid:
        pass
    first = pc.list_element(pc.split_pattern(pc.binary_join_element_wise(texts, ",", ""), ",", max_splits=1), 0)
    number = pc.cast(pc.if_else(pc.match_substring_regex(first, _NUMBER), first, pa.scalar(None, pa.string())), pa.float64())
    values = number.to_numpy(zero_copy_only=False)
    fits = np.isfinite(values) & (values > -(2**31)) & (values < 2**31)
    return pa.array(np.round(np.where(fits, values, 0)).astype(np.int32), mask=~fits)


class GenotypeColumns:
    """Calls and counts per batch for one file's samples."""

    def __init__(self, samples: list[str], keep_all_calls_up_to: int):
        self.samples = samples
        self.calls = CallRows(samples, keep_all_calls_up_to)
        self.keep_all = self.calls.keep_all
        self.genotypes = Genotypes()
        self._previous: pa.RecordBatch | None = None
        self._current: pa.RecordBatch | None = None

    def batch(self, lines: pa.RecordBatch, has: dict[str, np.ndarray], new: dict, repeats: list) -> tuple[int, np.ndarray]:
        """Rows for the new ALT rows `new` (numpy `record`, `allele`, Arrow `variant_id`) of records
        whose samples' lines are `lines` (record-major); `has[field]` per record: FORMAT holds it.
        `repeats`: (record, allele, variant id, first seen in the batch before) to merge.
        Returns the rows added and the COUNTS of each new row (a 7-column int array)."""
        samples = len(self.samples)
        gt_text = lines["GT"]
        encoded = pc.dictionary_encode(gt_text)
        distinct = encoded.dictionary.to_pylist()
        self.genotypes.decode(distinct)
        decoded = [self.genotypes.known[t] for t in distinct]
        record, allele = new["record"], new["allele"]
        top = int(max(allele.max(initial=1), 1))
        table = np.array([[ZYGOSITIES.index(self.calls.zygosity(gt, a)) for a in range(top + 1)] for gt, _ in decoded] or [[0] * (top + 1)], dtype=np.int8)
        gt_code = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        # A record whose FORMAT has no GT: pysam gives None, so no sample gets a row or is counted called.
        no_gt = ~has["GT"]
        none_code = len(decoded)
        table = np.vstack([table, np.zeros((1, top + 1), dtype=np.int8)])
        if no_gt.any():
            gt_code = gt_code.reshape(-1, samples)
            gt_code[no_gt] = none_code
            gt_code = gt_code.reshape(-1)
        decoded = decoded + [(None, None)]
        counts = self._counts(decoded, gt_code, record, allele, top, samples)
        added = self._rows(lines, decoded, table, gt_code, has, new, samples)
        if repeats:
            added += self._merge(lines, decoded, gt_code, has, repeats, samples)
        return added, counts

    def _pairs(self, record: np.ndarray, samples: int) -> tuple[np.ndarray, np.ndarray]:
        """(sample line, new row) pairs in the record reader's order: record, then sample, then ALT."""
        if not len(record):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        if len(record) == 1 or (record[1:] != record[:-1]).all():  # one new row per record, the usual case
            row = np.repeat(np.arange(len(record)), samples)
            return record[row] * samples + np.tile(np.arange(samples), len(record)), row
        starts = np.flatnonzero(np.r_[True, record[1:] != record[:-1]])
        per = np.diff(np.r_[starts, len(record)])  # new rows of each record
        size = per * samples
        pair_group = np.repeat(np.arange(len(starts)), size)
        within = np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
        sample = within // per[pair_group]
        row = starts[pair_group] + within % per[pair_group]
        return record[row] * samples + sample, row

    def _counts(self, decoded, gt_code, record, allele, top, samples) -> np.ndarray:
        """COUNTS per new row: each distinct genotype's own `record_counts`, weighted by how many of
        the record's samples have it (the counts add up sample by sample)."""
        terms = np.array([record_counts([gt], list(range(1, top + 1))) for gt, _ in decoded], dtype=np.int64)  # [genotype, ALT - 1, COUNTS]
        distinct = len(decoded)
        line_record = np.arange(len(gt_code)) // samples
        histogram = np.bincount(line_record * distinct + gt_code, minlength=(len(gt_code) // samples) * distinct)
        h = histogram.reshape(-1, distinct)[record]  # [new row, genotype]: samples with it
        return np.einsum("rd,drc->rc", h, terms[:, allele - 1, :])

    def _rows(self, lines, decoded, table, gt_code, has, new, samples) -> int:
        line, row = self._pairs(new["record"], samples)
        zygosity = table[gt_code[line], new["allele"][row]]
        keep = zygosity > 0
        line, row, zygosity = line[keep], row[keep], zygosity[keep]
        record = new["record"][row]
        taken = pa.array(line)
        stored_gt = pa.array([s for _, s in decoded], pa.string()).take(pa.array(gt_code[line]))
        dp = self._numbers(lines["DP"].take(taken), has["DP"][record])
        gq = self._numbers(lines["GQ"].take(taken), has["GQ"][record])
        ad = self._depths(lines["AD"].take(taken), new["allele"][row], has["AD"][record])
        sample_names = pa.array(self.samples, pa.string()).take(pa.array(line % samples))
        ids = new["variant_id"].take(pa.array(row))
        rows = pa.RecordBatch.from_arrays(
            [sample_names, ids, stored_gt, pa.array(ZYGOSITIES, pa.string()).take(pa.array(zygosity.astype(np.int64))), dp, gq, ad],
            schema=CALL_SCHEMA,
        )
        self._current = rows if self._current is None else pa.Table.from_batches([self._current, rows]).combine_chunks().to_batches()[0]
        return rows.num_rows

    @staticmethod
    def _numbers(texts: pa.Array, present: np.ndarray) -> pa.Array:
        values = first_numbers(texts)
        return pc.if_else(pa.array(present), values, pa.scalar(None, pa.int32()))

    @staticmethod
    def _depths(texts: pa.Array, allele: np.ndarray, present: np.ndarray) -> pa.Array:
        """`_allele_depths`: [REF depth, this ALT's depth] where AD has this ALT's value. A cohort
        repeats few AD texts, so each distinct one is split and read as numbers once."""
        n = len(texts)
        encoded = pc.dictionary_encode(texts)
        code = encoded.indices.to_numpy(zero_copy_only=False)
        parts = pc.split_pattern(encoded.dictionary, ",")
        ok = present & (pc.list_value_length(parts).to_numpy(zero_copy_only=False)[code] > allele)
        first = parts.offsets.to_numpy()[:-1][code]
        # [REF, ALT] of each row, taken from the split values in one gather (rows without them: null)
        index = np.zeros(2 * n, dtype=np.int64)
        index[0::2], index[1::2] = np.where(ok, first, 0), np.where(ok, first + allele, 0)
        values = first_numbers(pc.list_flatten(parts)).take(pa.array(index)) if n else pa.nulls(0, pa.int32())
        offsets = pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32))
        return pa.ListArray.from_arrays(offsets, values, type=pa.list_(pa.int32()), mask=pa.array(~ok))

    def _merge(self, lines, decoded, gt_code, has, repeats: list, samples: int) -> int:
        """Repeats' calls, merged by `CallRows._merge` on this batch's rows and the one before's
        (as lists, for this batch only)."""
        calls = self.calls
        calls.columns = _lists(self._current)
        calls._previous = _lists(self._previous) if self._previous is not None else None
        calls._index = calls._previous_index = None
        added = 0
        for record, allele, variant_id, before in repeats:
            keys = {name for name in GENOTYPE_FIELDS if has[name][record]}
            first = record * samples
            fields = {name: lines[name].slice(first, samples).to_pylist() for name in ("DP", "GQ", "AD")}
            values, genotypes = [], []
            for s in range(samples):
                gt, stored = decoded[gt_code[first + s]]
                values.append(_Sample(stored is not None and "|" in stored, {
                    "DP": _first_value(fields["DP"][s]), "GQ": _first_value(fields["GQ"][s]),
                    "AD": tuple(_first_value(v) for v in fields["AD"][s].split(",")),
                }))
                genotypes.append(gt)
            added += calls._merge(variant_id, allele, values, genotypes, keys, before)
        self._current = pa.RecordBatch.from_pydict(calls.columns, schema=CALL_SCHEMA)
        if self._previous is not None:
            self._previous = pa.RecordBatch.from_pydict(calls._previous, schema=CALL_SCHEMA)
        return added

    def flush(self, final: bool = False) -> pa.RecordBatch:
        """The rows of the batch before (held back for repeats); with `final`, every row still held."""
        ready = [b for b in ([self._previous, self._current] if final else [self._previous]) if b is not None and b.num_rows]
        self._previous = None if final else self._current
        self._current = None
        if not ready:
            return pa.RecordBatch.from_pylist([], schema=CALL_SCHEMA)
        return pa.Table.from_batches(ready, schema=CALL_SCHEMA).combine_chunks().to_batches()[0]


class _Sample:
    """What `CallRows` reads of a pysam sample: `phased` and the fields by name."""

    def __init__(self, phased: bool, values: dict):
        self.phased, self._values = phased, values

    def __getitem__(self, name):
        return self._values[name]


def _first_value(text: str | None) -> int | None:
    if text is None or text == ".":
        return None
    try:
        return int(text.split(",")[0])
    except ValueError:
        return None


def _lists(batch: pa.RecordBatch | None) -> dict[str, list]:
    return batch.to_pydict() if batch is not None else {name: [] for name in CALL_SCHEMA.names}


