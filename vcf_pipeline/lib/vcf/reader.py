"""Stream a VCF/BCF file with pysam into Arrow record batches: one row per ALT allele, plus calls.

Multi-allelic records are split (a sample carries ALT i when its GT holds i); gVCF reference blocks
(ALT only `<NON_REF>`, `<*>` or `.`) are counted, not returned; symbolic SVs and breakends are kept.
Each ALT gets the store's identity (lib/vcf/identity.py): the file's build, the UCSC contig spelling,
normalised alleles. Records that normalise to one variant become one row, their calls merged
(lib/vcf/calls.py) when the second comes within a batch of records of the first (always, in a
sorted file); a repeat further back is counted with the others, its calls left out.
Plain-gzip `.vcf.gz` files (which htslib cannot read through pysam) are decompressed to a temporary
file first. Any problem with the file raises `VcfFormatError` naming the file, the record and why:
a file cut short (a plain VCF whose last line has no line end, a BGZF file without its end-of-file
block), a line htslib cannot parse, a record that breaks the rules of `vcf_rules` (or, with
`bad_records="skip"`, such records are counted and left out). FORMAT/INFO numbers that the header
does not declare as numbers are read leniently: parsed when they hold a number, else left empty.

`VcfReader` opens and checks a file, then reads it one of two ways with one result (lib/vcf/parsed.py):
VCF text column-wise (lib/vcf/text_columns.py), the rest here, record by record with pysam; a file
the column-wise reader cannot read through gets this reader's error.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pysam

from vcf_pipeline.lib.vcf.annotations import (
    ANNOTATION_COLUMNS,
    AnnotationReader,
    parse_subfield_names,
)
from vcf_pipeline.lib.vcf.calls import CallRows, SampleOptions
from vcf_pipeline.lib.vcf.cohort_counts import COUNTS, allele_frequency
from vcf_pipeline.lib.vcf.consequences import CsqFailed, annotate_with_csq
from vcf_pipeline.lib.vcf.faults import (
    VcfFormatError,
    check_complete,
    compression,
    data_line,
    data_line_count,
    ends_with_newline,
    explain_open_failure,
    last_line,
)
from vcf_pipeline.lib.vcf.identity import (
    BuildError,
    FileIdentity,
    IdentityOptions,
    make_variant_id,
)
from vcf_pipeline.lib.vcf.parsed import (
    PARSED_SCHEMA,
    REFERENCE_ALLELES,
    STAR_ALLELE,
    ParsedBatch,
    ParseStats,
    classify_variant,
)
from vcf_pipeline.lib.vcf.rules import (
    line_problem,
    record_problem,
    unterminated_line_problem,
)

DEFAULT_BATCH_RECORDS = 50_000
BAD_RECORD_POLICIES = ("fail", "skip")
_NO_SAMPLES = (0,) * len(COUNTS)


def _is_plain_gzip(path: Path) -> bool:
    return compression(path) == "gzip"


@contextmanager
def _readable_copy(path: Path, tmp_dir: Path | None) -> Iterator[Path]:
    """The path pysam should open: the file itself, or a decompressed copy of a plain-gzip file."""
    if not _is_plain_gzip(path):
        yield path
        return
    with tempfile.TemporaryDirectory(dir=tmp_dir, prefix="vcf-gunzip-") as tmp:
        plain = Path(tmp) / path.name.removesuffix(".gz")
        try:
            with gzip.open(path, "rb") as src, open(plain, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (EOFError, OSError, zlib.error) as exc:
            raise VcfFormatError(path, f"gzip stream is truncated or corrupt ({exc})") from exc
        yield plain


class VcfReader:
    """One VCF/BCF file, read in batches. Use as a context manager; iterate `batches()`."""

    def __init__(
        self,
        path: Path | str,
        batch_records: int = DEFAULT_BATCH_RECORDS,
        tmp_dir: Path | None = None,
        bad_records: str = "fail",
        identity: IdentityOptions = IdentityOptions(),
        source_hint: str = "",
        samples: SampleOptions = SampleOptions(),
        columnar: bool = True,
    ):
        if bad_records not in BAD_RECORD_POLICIES:
            raise ValueError(f"bad_records must be one of {BAD_RECORD_POLICIES}, not {bad_records!r}")
        self.path = Path(path)
        self.batch_records = batch_records
        self.tmp_dir = tmp_dir
        self.bad_records = bad_records
        self.identity_options = identity
        self.source_hint = source_hint
        self.sample_options = samples
        self.columnar = columnar  # VCF text read column-wise (lib/vcf/text_columns.py); False: record by record
        self.record_by_record: str | None = None  # why it was not, once batches() starts
        self.stats = ParseStats()

    def __enter__(self) -> "VcfReader":
        if not self.path.is_file():
            raise VcfFormatError(self.path, "file does not exist")
        check_complete(self.path)
        self._copy = _readable_copy(self.path, self.tmp_dir)
        self._readable = self._copy.__enter__()
        try:
            self._vcf = pysam.VariantFile(str(self._readable))
        except (ValueError, OSError) as exc:
            self._copy.__exit__(None, None, None)
            raise VcfFormatError(self.path, explain_open_failure(self._readable, exc)) from exc
        try:
            header = self._vcf.header
            self.samples = [self.sample_options.name(s) for s in header.samples]
            self.annotations = AnnotationReader(header)
            self.identity = FileIdentity(header, self.identity_options, self.source_hint)
        except UnicodeDecodeError as exc:
            self.__exit__(None, None, None)
            raise VcfFormatError(self.path, f"header is not valid UTF-8 ({exc.reason} at byte {exc.start} of {exc.object[:40]!r})") from exc
        except BuildError as exc:
            self.__exit__(None, None, None)
            raise VcfFormatError(self.path, str(exc)) from exc
        self.stats.identity = self.identity.stats
        self._header_columns = 8 + (1 + len(self.samples) if self.samples else 0)
        self._cut_record = self._find_cutlast_line(header)
        if not self.annotations.kinds:
            self._annotate_with_csq()  # after the checks of the file as written
        self.stats.samples = self.samples
        self.stats.annotation_kinds = self.annotations.kinds
        self.stats.file_format = f"{self._vcf.format} {self._vcf.compression}"
        return self

    def _annotate_with_csq(self) -> None:
        """A file without annotations is read through `bcftools csq` when the build has a FASTA and a
        GFF3 gene model; `stats.annotation_source` says what happened either way."""
        build, fasta = self.identity.build, self.identity.stats.reference
        gff3 = self.identity_options.gene_models.get(build)
        if not (gff3 and fasta):
            missing = "neither a reference FASTA nor a GFF3 gene model" if not (fasta or gff3) else "no GFF3 gene model" if fasta else "no reference FASTA"
            self.stats.annotation_source = f"none: the file has no annotation, and build {build} has {missing} for bcftools csq (references.{build} in vcf-pipeline.yaml)"
            return
        folder = Path(tempfile.mkdtemp(prefix="vcf-csq-", dir=self.tmp_dir))
        try:
            annotated = annotate_with_csq(self._readable, Path(fasta), gff3, folder)
        except CsqFailed as exc:
            self.stats.annotation_source = f"none: bcftools csq failed ({exc})"
            shutil.rmtree(folder, ignore_errors=True)
            return
        self._vcf.close()
        self._csq_folder = folder
        self._vcf = pysam.VariantFile(str(annotated))
        self.annotations = AnnotationReader(self._vcf.header)
        self.stats.annotation_kinds = self.annotations.kinds
        self.stats.annotation_source = f"bcftools csq with {gff3} and {fasta}"

    def __exit__(self, *exc_info) -> None:
        try:
            self._vcf.close()
        except OSError:
            if exc_info[0] is None:  # htslib's close complains after a read error: keep the read error
                raise
        finally:
            self._copy.__exit__(*exc_info)
            if getattr(self, "_csq_folder", None):
                shutil.rmtree(self._csq_folder, ignore_errors=True)

    def _find_cutlast_line(self, header) -> int | None:
        """A plain VCF whose last line has no line end and looks cut is refused as truncated (with
        `bad_records="skip"`, read without that line: its record number is returned)."""
        if self._vcf.format == "BCF" or compression(self._readable) != "none" or ends_with_newline(self._readable):
            return None
        line = last_line(self._readable)
        if line.startswith("#"):
            return None
        subfields = {k: len(names) for k, m in header.info.items() if (names := parse_subfield_names(m.description or ""))}
        problem = unterminated_line_problem(line, self._header_columns, set(header.info.keys()), subfields)
        if problem is None:
            return None
        if self.bad_records == "fail":
            self.__exit__(None, None, None)
            raise VcfFormatError(self.path, f"file is truncated: {problem}")
        self._cut_problem = problem
        return data_line_count(self._readable)

    def _unreadable(self, exc: Exception, last: str) -> VcfFormatError:
        """The error for record `stats.records + 1`, which htslib could not read."""
        number = self.stats.records + 1
        where = f"record {number}" + (f" (after {last})" if last else "")
        if isinstance(exc, UnicodeDecodeError):
            return VcfFormatError(self.path, f"record is not valid UTF-8 ({exc.reason} in {exc.object[:40]!r})", where)
        if isinstance(exc, OSError) and self._vcf.compression != "NONE":
            return VcfFormatError(self.path, f"compressed data is corrupt: a BGZF block cannot be inflated ({exc})", where)
        line = None if self._vcf.format == "BCF" else data_line(self._readable, number)
        if line is None:
            return VcfFormatError(self.path, f"unreadable record ({exc})", where)
        excerpt = line if len(line) <= 100 else line[:100] + "..."
        return VcfFormatError(self.path, f"{line_problem(line, self._header_columns)}: {excerpt!r}", where)

    def _refuse_or_skip(self, problem: str, where: str) -> None:
        if self.bad_records == "fail":
            raise VcfFormatError(self.path, problem, where)
        self.stats.bad_records_skipped += 1
        if len(self.stats.bad_record_examples) < 5:
            self.stats.bad_record_examples.append(f"{where}: {problem}")

    def batches(self) -> Iterator[ParsedBatch]:
        """Batches of at most `batch_records` records' variants and calls."""
        from vcf_pipeline.lib.vcf.text_columns import (
            TextUnreadable,
            text_columns_batches,
            text_columns_refusal,
        )

        self.record_by_record = text_columns_refusal(self) if self.columnar else "asked for"
        self.stats.reading = "column-wise" if self.record_by_record is None else f"record by record: {self.record_by_record}"
        if self.record_by_record is None:
            try:
                yield from text_columns_batches(self)
            except TextUnreadable as exc:
                raise self._record_error(exc) from None
            return
        yield from self._records()

    def _record_error(self, exc: Exception) -> VcfFormatError:
        """The error the record-by-record reader gives for this file (it names the record and why)."""
        self.stats = ParseStats(samples=self.stats.samples, annotation_kinds=self.stats.annotation_kinds, file_format=self.stats.file_format)
        try:
            for _ in self._records():
                pass
        except VcfFormatError as error:
            return error
        return VcfFormatError(self.path, f"record text cannot be read ({exc})")

    def _records(self) -> Iterator[ParsedBatch]:
        seen: dict[str, int] = {}  # variant id -> the batch it went into
        self._batch = 0
        variants = {name: [] for name in PARSED_SCHEMA.names}
        calls = CallRows(self.samples, self.sample_options.keep_all_calls_up_to)
        records_in_batch = 0
        last = ""
        iterator = iter(self._vcf)
        while True:
            try:
                record = next(iterator)
            except StopIteration:
                break
            except (ValueError, OSError) as exc:
                raise self._unreadable(exc, last) from exc
            self.stats.records += 1
            last = f"{record.chrom}:{record.pos}"
            problem = record_problem(record.chrom, record.pos, record.ref, record.alts or ())
            if self.stats.records == self._cut_record:
                problem = self._cut_problem
            if problem:
                self._refuse_or_skip(problem, f"record {self.stats.records} at {last}")
                continue
            if record.pos == 0:
                self.stats.telomere_records += 1
                continue
            try:
                self._add_record(record, seen, variants, calls)
            except (ValueError, TypeError, KeyError) as exc:
                raise VcfFormatError(self.path, f"cannot decode record ({exc})", f"record {self.stats.records} at {last}") from exc
            records_in_batch += 1
            if records_in_batch >= self.batch_records:
                yield self._flush(variants, calls)
                records_in_batch = 0
        if problem := self.identity.check_references():
            raise VcfFormatError(self.path, problem)
        yield self._flush(variants, calls, final=True)  # also the calls held back for repeats

    def _flush(self, variants: dict, calls: CallRows, final: bool = False) -> ParsedBatch:
        batch = ParsedBatch(pa.RecordBatch.from_pydict(variants, schema=PARSED_SCHEMA), calls.flush(final))
        for column in variants.values():
            column.clear()
        self._batch += 1
        return batch

    def _add_record(self, record: pysam.VariantRecord, seen: dict[str, int], variants: dict, calls: CallRows) -> None:
        alts = record.alts or ()
        kept = [i for i, alt in enumerate(alts) if alt not in REFERENCE_ALLELES and alt != STAR_ALLELE]
        if len(kept) < len(alts):
            self.stats.star_alleles += sum(alt == STAR_ALLELE for alt in alts)
        if not kept:
            self.stats.reference_blocks += 1
            return
        identity = self.identity
        chrom = identity.contig(record.chrom)
        assembly = identity.assembly_of(chrom)
        new_alleles, repeated = [], []
        for i in kept:
            n = identity.normalise(record.chrom, record.pos, record.ref, alts[i])
            variant_id = make_variant_id(assembly, chrom, n.pos, n.ref, n.alt)
            if variant_id in seen:
                self.stats.duplicate_variants += 1
                repeated.append((i, variant_id))
                continue
            seen[variant_id] = self._batch
            new_alleles.append((i, variant_id, n))
        if new_alleles:
            annotations = self.annotations.annotate(record, [i for i, _, _ in new_alleles])
            qual, stop = record.qual, record.stop
            filters = ";".join(record.filter.keys()) or None
            for (i, variant_id, n), annotation in zip(new_alleles, annotations):
                variants["variant_id"].append(variant_id)
                variants["assembly"].append(assembly)
                variants["chrom"].append(chrom)
                variants["pos"].append(n.pos)
                # A normalised sequence allele ends where its REF does; symbolic ones where the record says.
                variants["end"].append(n.pos + len(n.ref) - 1 if n.ref != record.ref or n.pos != record.pos else stop)
                variants["ref"].append(n.ref)
                variants["alt"].append(n.alt)
                variants["variant_type"].append(classify_variant(n.ref, n.alt))
                for name in ANNOTATION_COLUMNS:
                    variants[name].append(annotation[name])
                variants["qual"].append(qual)
                variants["filter"].append(filters)
            self.stats.variants += len(new_alleles)
        counts = [_NO_SAMPLES] * len(new_alleles)
        if self.samples:
            # A repeat merges its calls when its first record is in this batch or the one before (in a
            # sorted file, always); one further back is counted, its calls left out.
            repeats = [(i, v, seen[v] < self._batch) for i, v in repeated if seen[v] >= self._batch - 1]
            added, counts = calls.add(record, [(i, variant_id) for i, variant_id, _ in new_alleles], repeats)
            self.stats.calls += added
        for allele_counts in counts:
            for name, value in zip(COUNTS, allele_counts):
                variants[name].append(value)
            ac, an = allele_counts[0], allele_counts[1]
            variants["cohort_ac"].append(ac)
            variants["cohort_an"].append(an)
            variants["cohort_af"].append(allele_frequency(ac, an))
