"""VCF text read a batch of records at a time, as Arrow columns: the fast path of `VcfReader` for VCF
text (plain or compressed), with or without samples.

pysam reads every record once, without looking at them, in a thread beside the work here
(lib/vcf/record_check.py): a file htslib refuses fails with the record-by-record reader's words (so
does one Arrow cannot split). In a file with samples that thread reads the sites only: the genotype
query parses the sample columns. The
text's first eight columns (and FORMAT) are read by Arrow's CSV reader and every column is computed per batch: the rules of
`record_problem` as regular expressions (a record they flag is judged by `record_problem` itself),
ALTs split by list functions, the identity of SNVs and of indels with a one-base allele by string
functions; other alleles (longer indels and MNVs, symbolic, lower case, or any allele when a FASTA is
set) go through `FileIdentity.normalise` one by one, as before. Annotations come from
lib/vcf/annotation_columns.py, worked out in a second thread while the identity is worked out in this
one; calls and cohort counts from lib/vcf/genotype_columns.py; repeats are found by
lib/vcf/seen_ids.py. The output equals the record-by-record reader's, field for field
(vcf_pipeline_tests/test_text_columns.py compares them on every shared VCF and conformance case).
"""

from __future__ import annotations

import gzip
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as csv

from vcf_pipeline.lib.vcf.annotation_columns import AnnotationColumns
from vcf_pipeline.lib.vcf.annotations import BCSQ, vep_allele
from vcf_pipeline.lib.vcf.cohort_counts import COUNTS, allele_frequency
from vcf_pipeline.lib.vcf.faults import VcfFormatError, compression
from vcf_pipeline.lib.vcf.genotype_columns import (
    CALLS_PER_BATCH,
    GENOTYPE_FIELDS,
    GenotypeColumns,
    GenotypeQuery,
    genotype_refusal,
)
from vcf_pipeline.lib.vcf.identity import MAX_ALLELE_IN_ID, make_variant_id
from vcf_pipeline.lib.vcf.info_columns import (
    READABLE_TYPES,
    by_distinct,
    float32_or_none,
    info_values,
    integer_or_none,
    true_where,
)
from vcf_pipeline.lib.vcf.parsed import (
    PARSED_SCHEMA,
    REFERENCE_ALLELES,
    STAR_ALLELE,
    ParsedBatch,
    classify_variant,
)
from vcf_pipeline.lib.vcf.record_check import RecordCheck, format_naming_a_key_twice
from vcf_pipeline.lib.vcf.rules import CONTIG_NAME, MAX_POS, record_problem
from vcf_pipeline.lib.vcf.seen_ids import SeenIds

if TYPE_CHECKING:
    from vcf_pipeline.lib.vcf.reader import VcfReader

COLUMNS = ("CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")
NOT_STORED = (*REFERENCE_ALLELES, STAR_ALLELE)
_PLAIN_ALT = r"^(?:[ACGTNacgtn]+|<[^<>\s,]+>|\*|\.)$"
_BLOCK_BYTES = 8 << 20


class TextUnreadable(Exception):
    """A record line Arrow's CSV reader cannot split into its columns, or records bcftools printed no
    calls for: the record reader says what is wrong."""


def text_columns_refusal(reader: VcfReader) -> str | None:
    """Why `reader`'s file must be read record by record; None when this module can read it."""
    header = reader._vcf.header
    if reader._vcf.format != "VCF":
        return f"it is {reader._vcf.format}, not VCF text"
    if reader.samples and (why := genotype_refusal(header, lambda: _formats_used(reader._readable, len(reader.samples)))):
        return why
    if reader._cut_record is not None:
        return "its last line is cut"
    if any(f.info_id == BCSQ for f in reader.annotations.transcript_fields):
        return "its annotation is bcftools csq's BCSQ"
    if any(header.info[key].type not in READABLE_TYPES for key in reader.annotations.read_keys):
        return "an annotation INFO field has a type read only by pysam"
    if "END" in header.info and header.info["END"].type != "Integer":
        return "its INFO END is not an Integer"
    return None


def _header_lines(path, compressed: bool) -> int | None:
    """How many lines the header has; None when no record follows it."""
    with (gzip.open(path, "rt", errors="replace") if compressed else open(path, errors="replace")) as text:
        for number, line in enumerate(text, 1):
            if line.startswith("#CHROM"):
                return number if any(line.strip() for line in text) else None
    return None


def _record_tables(path, batch_records: int, samples: int) -> Iterator[pa.RecordBatch]:
    """The file's records as tables of the eight VCF columns (and FORMAT), `batch_records` rows each."""
    compressed = compression(path) != "none"
    header_lines = _header_lines(path, compressed)
    if header_lines is None:
        return
    names = [*COLUMNS, *(["FORMAT", *(f"sample {i}" for i in range(samples))] if samples else [])]
    stream = pa.input_stream(str(path), compression="gzip" if compressed else None)
    records = csv.open_csv(
        stream,
        read_options=csv.ReadOptions(skip_rows=header_lines, column_names=names, block_size=_BLOCK_BYTES),
        parse_options=csv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False),
        convert_options=csv.ConvertOptions(
            column_types={name: pa.int64() if name == "POS" else pa.string() for name in names[:9]},
            include_columns=names[:9] if samples else names, null_values=[], strings_can_be_null=False,
        ),
    )
    held: list[pa.RecordBatch] = []
    rows = 0
    for batch in records:
        held.append(batch)
        rows += batch.num_rows
        while rows >= batch_records:
            table = pa.Table.from_batches(held)
            yield _one_batch(table.slice(0, batch_records))
            rest = table.slice(batch_records)
            held, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield _one_batch(pa.Table.from_batches(held))


def _formats_used(path, samples: int) -> set[str]:
    """The FORMAT keys any record uses (nothing when the text cannot be read: the reader will say why)."""
    used: set[str] = set()
    try:
        for table in _record_tables(path, 1 << 20, samples):
            for text in pc.unique(table["FORMAT"]).to_pylist():
                used.update(text.split(":"))
    except (pa.ArrowInvalid, OSError):
        pass
    return used


def _one_batch(table: pa.RecordBatch) -> pa.RecordBatch:
    return table.combine_chunks().to_batches()[0]


def text_columns_batches(reader: VcfReader) -> Iterator[ParsedBatch]:
    """`reader.batches()` for a file `text_columns_refusal` accepts. A file htslib or Arrow cannot read
    through raises TextUnreadable (the reader then gives the record reader's error)."""
    annotations = AnnotationColumns(reader.annotations, reader._vcf.header)
    calls = GenotypeColumns(reader.samples, reader.sample_options.keep_all_calls_up_to)
    samples = len(reader.samples)
    seen = SeenIds()
    with tempfile.TemporaryDirectory(prefix="vcf-genotypes-", dir=reader.tmp_dir) as folder, ThreadPoolExecutor(1, "vcf-annotation") as pool:
        query = GenotypeQuery(reader._readable, reader._vcf.header, Path(folder)) if samples else None
        check = RecordCheck(reader._readable, sites_only=query is not None)
        try:
            for number, table in enumerate(_record_tables(reader._readable, _records_per_batch(reader.batch_records, samples), samples)):
                genotypes = query.lines().take(table.num_rows * samples) if query else None
                if genotypes is not None and genotypes.num_rows != table.num_rows * samples:
                    raise TextUnreadable(f"bcftools query printed calls for fewer records than the text holds (batch {number})")
                if query and (twice := format_naming_a_key_twice(table["FORMAT"])):
                    raise TextUnreadable(f"FORMAT {twice!r} names a key twice")
                columns = _variant_columns(reader, table, seen, number, annotations, calls, genotypes, pool)
                yield ParsedBatch(pa.RecordBatch.from_pydict(columns, schema=PARSED_SCHEMA), calls.flush())
            if query and query.lines().take(1).num_rows:
                raise TextUnreadable("bcftools query printed calls for more records than the text holds")
            if query and query.failed():
                raise TextUnreadable(str(query.error))
            if check.failed():
                raise TextUnreadable(f"htslib cannot read every record ({check.error})")
        except (pa.ArrowInvalid, OSError) as exc:  # a line htslib reads leniently (7 columns), a damaged block
            raise TextUnreadable(str(exc)) from exc
        except VcfFormatError as exc:
            if check.failed():  # the record reader stops at htslib's error first
                raise TextUnreadable(f"htslib cannot read every record ({check.error})") from exc
            if query and query.failed():
                raise TextUnreadable(str(query.error)) from exc
            raise
        finally:
            if query:
                query.stop()
    yield ParsedBatch(pa.RecordBatch.from_pylist([], schema=PARSED_SCHEMA), calls.flush(final=True))
    if problem := reader.identity.check_references():
        raise VcfFormatError(reader.path, problem)


def _records_per_batch(batch_records: int, samples: int) -> int:
    """Records per batch: `batch_records`, fewer for a large cohort, so a batch holds at most
    CALLS_PER_BATCH (record, sample) lines whatever the number of samples."""
    return max(1, min(batch_records, CALLS_PER_BATCH // samples)) if samples else batch_records


def _checked_records(reader: VcfReader, table: pa.RecordBatch, alt: pa.Array, alt_record: np.ndarray) -> np.ndarray:
    """Which records to store (`alt`: every ALT, `alt_record`: its record): rule-breaking ones refused
    (or skipped and counted), telomeres counted."""
    stats = reader.stats
    first = stats.records + 1
    stats.records += table.num_rows
    chrom, pos, ref = table["CHROM"], table["POS"].to_numpy(), table["REF"]
    plain_alt = true_where(pc.match_substring_regex(alt, _PLAIN_ALT)) & true_where(
        pc.not_equal(pc.utf8_upper(alt), pc.utf8_upper(ref.take(pa.array(alt_record))))
    )
    plain = (
        true_where(pc.match_substring_regex(chrom, f"^(?:{CONTIG_NAME.pattern})$"))
        & true_where(pc.match_substring_regex(ref, "^[ACGTNacgtn]+$"))
        & (pos >= 0) & (pos <= MAX_POS)
        & (np.bincount(alt_record[~plain_alt], minlength=table.num_rows) == 0)
    )
    keep = np.ones(table.num_rows, dtype=bool)
    for i in np.flatnonzero(~plain):
        c, p, r, a = chrom[i].as_py(), int(pos[i]), ref[i].as_py(), table["ALT"][i].as_py()
        problem = record_problem(c, p, r, tuple(a.split(",")) if a != "." else ())
        if problem:
            reader._refuse_or_skip(problem, f"record {first + i} at {c}:{p}")
            keep[i] = False
    telomeres = keep & (pos == 0)
    stats.telomere_records += int(telomeres.sum())
    return keep & ~telomeres


def _variant_columns(
    reader: VcfReader, table: pa.RecordBatch, seen: SeenIds, batch: int, annotations: AnnotationColumns,
    calls: GenotypeColumns, genotypes: pa.RecordBatch | None, pool: ThreadPoolExecutor,
) -> dict:
    """One batch's variant columns (PARSED_SCHEMA), its calls added to `calls`."""
    stats = reader.stats
    alleles = _stored_alleles(reader, table)
    record, alt_index, alt = alleles["record"], alleles["alt_index"], alleles["alt"]

    def annotate() -> dict[str, pa.Array]:
        return annotations.columns(table["INFO"], {
            "record": record, "alt_index": alt_index, "alts": alleles["alt_count"][record], "alt": alt,
            "vep_allele": _vep_alleles(table, record, alt_index, alt), "id": table["ID"].take(pa.array(record)),
        })

    # Every ALT's annotation is worked out in `pool` while its identity is here: both are mostly Arrow
    # kernels, which let go of the GIL, so the two use both cores.
    annotating = pool.submit(annotate)
    identity = _identity_columns(reader, table, alleles)
    ids = identity["variant_id"]
    new, repeated = seen.new(ids, identity["chrom"], identity["pos"], batch)
    stats.duplicate_variants += len(repeated)  # a repeat, or an ALT normalising to one seen
    stats.variants += int(new.sum())
    n = pa.array(np.flatnonzero(new))
    record_new = record[new]
    taken = pa.array(record_new)
    annotation = {name: column if not repeated else column.take(n) for name, column in annotating.result().items()}
    if genotypes is not None:
        # A repeat merges its calls when its first record is in this batch or the one before.
        repeats = [
            (int(record[i]), int(alt_index[i]) + 1, variant_id, first < batch)
            for i in repeated if (first := seen.first_batch(variant_id := ids[i].as_py())) >= batch - 1
        ]
        new_rows = {"record": record_new, "allele": alt_index[new] + 1, "variant_id": ids.take(n)}
        added, counts = calls.batch(genotypes, _format_fields(table), new_rows, repeats)
        stats.calls += added
    else:  # a sites-only file called no sample
        counts = np.zeros((len(record_new), len(COUNTS)), dtype=np.int64)
    ac, an = counts[:, 0], counts[:, 1]
    filters = table["FILTER"].take(taken)
    return {
        **{name: column.take(n) for name, column in identity.items()},
        **annotation,
        "qual": _qual(table["QUAL"].take(taken)),
        "filter": pc.if_else(pc.equal(filters, "."), pa.scalar(None, pa.string()), filters),
        "cohort_ac": pa.array(ac), "cohort_an": pa.array(an),
        "cohort_af": pa.array([allele_frequency(c, t) for c, t in zip(ac.tolist(), an.tolist())], pa.float64()),
        **{name: pa.array(counts[:, i].astype(np.int32)) for i, name in enumerate(COUNTS)},
    }


def _stored_alleles(reader: VcfReader, table: pa.RecordBatch) -> dict:
    """The ALTs to store, one row each: their record, ALT index and text, and each record's ALT count;
    reference blocks and `*` alleles counted."""
    stats = reader.stats
    alts = pc.split_pattern(table["ALT"], ",")
    alt, alt_record = pc.list_flatten(alts), pc.list_parent_indices(alts).to_numpy()
    keep_record = _checked_records(reader, table, alt, alt_record)
    alt_count = pc.list_value_length(alts).to_numpy()
    alt_index = np.arange(len(alt)) - np.repeat(alts.offsets.to_numpy()[:-1], alt_count)
    stored = true_where(pc.invert(pc.is_in(alt, pa.array(NOT_STORED)))) & keep_record[alt_record]
    stats.star_alleles += int((true_where(pc.equal(alt, "*")) & keep_record[alt_record]).sum())
    stats.reference_blocks += int((keep_record & (np.bincount(alt_record[stored], minlength=table.num_rows) == 0)).sum())
    rows = np.flatnonzero(stored)
    return {"record": alt_record[rows], "alt_index": alt_index[rows], "alt": alt.take(pa.array(rows)), "alt_count": alt_count}


def _identity_columns(reader: VcfReader, table: pa.RecordBatch, alleles: dict) -> dict[str, pa.Array]:
    """variant_id, assembly, chrom, pos, end, ref, alt and variant_type of each stored ALT. Upper-case
    SNVs, and indels with a one-base allele, keep their alleles (unless a FASTA checks every REF); the
    rest go through `FileIdentity.normalise` one by one."""
    identity = reader.identity
    taken = pa.array(alleles["record"])
    alt = alleles["alt"]
    chrom_raw, ref_raw, pos_raw = table["CHROM"].take(taken), table["REF"].take(taken), table["POS"].take(taken)
    chrom = by_distinct(chrom_raw, identity.contig, pa.string())
    assembly = by_distinct(chrom, identity.assembly_of, pa.string())
    stop = _stops(reader, table).take(taken)
    snv = true_where(pc.match_substring_regex(ref_raw, "^[ACGTN]$")) & true_where(pc.match_substring_regex(alt, "^[ACGTN]$"))
    # Upper-case indels with a one-base allele: `trim` leaves them as they are (no FASTA to left-align
    # on), and alleles short enough to be written into the id whole.
    ref_length, alt_length = pc.utf8_length(ref_raw), pc.utf8_length(alt)
    indel = (
        ~snv & true_where(pc.match_substring_regex(ref_raw, "^[ACGTN]+$")) & true_where(pc.match_substring_regex(alt, "^[ACGTN]+$"))
        & (true_where(pc.equal(ref_length, 1)) | true_where(pc.equal(alt_length, 1)))
        & true_where(pc.less_equal(ref_length, MAX_ALLELE_IN_ID)) & true_where(pc.less_equal(alt_length, MAX_ALLELE_IN_ID))
    )
    if identity.normaliser.fasta is not None:
        snv[:] = indel[:] = False
    same_first = pc.equal(pc.utf8_slice_codeunits(ref_raw, 0, 1), pc.utf8_slice_codeunits(alt, 0, 1))
    indel_type = pc.if_else(same_first, pc.if_else(pc.less(ref_length, alt_length), pa.scalar("INS"), pa.scalar("DEL")), pa.scalar("INDEL"))
    columns = {
        "variant_id": pc.binary_join_element_wise(assembly, ":", chrom, "-", pc.cast(pos_raw, pa.string()), "-", ref_raw, "-", alt, ""),
        "assembly": assembly, "chrom": chrom, "pos": pos_raw, "end": stop, "ref": ref_raw, "alt": alt,
        "variant_type": pc.if_else(pa.array(snv), pa.scalar("SNV"), pc.if_else(pa.array(indel), indel_type, pa.scalar(None, pa.string()))),
    }
    others = np.flatnonzero(~snv & ~indel)
    if not len(others):
        return columns
    o = pa.array(others)
    before = {name: columns[name].take(o).to_pylist() for name in ("chrom", "assembly", "pos", "ref", "alt", "end")}
    raw_chrom = chrom_raw.take(o).to_pylist()
    found = [identity.normalise(c, p, r, a) for c, p, r, a in zip(raw_chrom, before["pos"], before["ref"], before["alt"])]
    # A normalised sequence allele ends where its REF does; symbolic ones where the record says.
    ends = [n.pos + len(n.ref) - 1 if n.ref != r or n.pos != p else s for n, r, p, s in zip(found, before["ref"], before["pos"], before["end"])]
    replaced = {
        "variant_id": [make_variant_id(a, c, n.pos, n.ref, n.alt) for a, c, n in zip(before["assembly"], before["chrom"], found)],
        "pos": [n.pos for n in found], "end": ends, "ref": [n.ref for n in found], "alt": [n.alt for n in found],
        "variant_type": [classify_variant(n.ref, n.alt) for n in found],
    }
    mask = pa.array(~snv & ~indel)
    for name, values in replaced.items():
        columns[name] = pc.replace_with_mask(columns[name], mask, pa.array(values, columns[name].type))
    return columns


def _format_fields(table: pa.RecordBatch) -> dict[str, np.ndarray]:
    """Per record, whether its FORMAT holds each genotype field."""
    return {name: true_where(pc.match_substring_regex(table["FORMAT"], f"(?:^|:){name}(?::|$)")) for name in GENOTYPE_FIELDS}


def _stops(reader: VcfReader, table: pa.RecordBatch) -> pa.Array:
    """Each record's last position, as pysam's `record.stop`: INFO END when it is given, else POS + len(REF) - 1."""
    pos = table["POS"]
    stop = pc.subtract(pc.add(pos, pc.utf8_length(table["REF"]).cast(pa.int64())), 1)
    if "END" not in reader._vcf.header.info:
        return stop
    end_text = info_values(table["INFO"], ["END"])["END"]
    end = by_distinct(end_text, integer_or_none, pa.int64())
    return pc.if_else(pc.fill_null(pc.greater_equal(end, pos), False), end, stop)


def _vep_alleles(table: pa.RecordBatch, record: np.ndarray, alt_index: np.ndarray, alt: pa.Array) -> pa.Array:
    """VEP's allele string of each row (`vep_allele`): the ALT itself unless the record's alleles
    differ in length. One-ALT records are worked out here, others by `vep_allele`."""
    refs, alt_texts = table["REF"].take(pa.array(record)), table["ALT"].take(pa.array(record))
    same_length = true_where(pc.equal(pc.utf8_length(refs), 1)) & true_where(pc.match_substring_regex(alt_texts, "^[^,]{1}(?:,[^,]{1})*$"))
    if same_length.all():
        return alt
    # One ASCII ALT: the shared first base is trimmed when the lengths differ and the ALT is no symbol.
    one_alt = ~same_length & true_where(pc.invert(pc.match_substring(alt_texts, ","))) & true_where(pc.string_is_ascii(alt_texts))
    trimmed = (
        one_alt & true_where(pc.not_equal(pc.utf8_length(refs), pc.utf8_length(alt)))
        & true_where(pc.equal(pc.utf8_slice_codeunits(refs, 0, 1), pc.utf8_slice_codeunits(alt, 0, 1)))
        & true_where(pc.invert(pc.starts_with(alt, "<"))) & true_where(pc.greater(pc.utf8_length(alt), 0))
    )
    rest = pc.utf8_slice_codeunits(alt, 1)
    found = pc.if_else(pa.array(trimmed), pc.if_else(pc.equal(rest, ""), pa.scalar("-"), rest), alt)
    odd = ~same_length & ~one_alt
    if not odd.any():
        return found
    o = pa.array(np.flatnonzero(odd))
    read = [vep_allele(r, tuple(a.split(",")), int(i)) for r, a, i in zip(refs.take(o).to_pylist(), alt_texts.take(o).to_pylist(), alt_index[odd])]
    return pc.replace_with_mask(found, pa.array(odd), pa.array(read, pa.string()))


def _qual(text: pa.Array) -> pa.Array:
    """QUAL as pysam gives it: the text's number rounded to 32 bits; `.` null."""
    number = pc.if_else(pc.equal(text, "."), pa.scalar(None, pa.string()), text)
    try:
        return pc.cast(pc.cast(number, pa.float64()), pa.float32()).cast(pa.float64())
    except pa.ArrowInvalid:
        return pa.array([float32_or_none(v) for v in number.to_pylist()], pa.float64())
