"""Per-partition Parquet files between the pipeline's steps: parsed variants and calls, embeddings.

Each step streams: a file is parsed batch by batch into Parquet writers, and later steps read it back
batch by batch, so memory stays bounded whatever the file's size.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vcf_pipeline.lib.vcf.calls import CALL_SCHEMA, SampleOptions
from vcf_pipeline.lib.vcf.identity import IdentityOptions
from vcf_pipeline.lib.vcf.reader import (
    DEFAULT_BATCH_RECORDS,
    PARSED_SCHEMA,
    ParseStats,
    VcfReader,
)
from vcf_pipeline.lib.watch.partition_keys import storage_name


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class PartitionFiles:
    """Where one partition's intermediate files live under the warehouse root."""

    root: Path
    partition_key: str

    @property
    def folder(self) -> Path:
        return self.root / storage_name(self.partition_key)

    @property
    def variants(self) -> Path:
        return self.folder / "variants.parquet"

    @property
    def calls(self) -> Path:
        return self.folder / "calls.parquet"

    @property
    def embeddings(self) -> Path:
        return self.folder / "embeddings.parquet"

    @property
    def stored_rows(self) -> Path:
        """The file's variants as the LanceDB step stored them (merged across files, curated): what
        the graph loads."""
        return self.folder / "stored_rows.parquet"

    @property
    def refreshed_rows(self) -> Path:
        """Variants the file no longer holds that other files do, with their annotation merged anew."""
        return self.folder / "refreshed_rows.parquet"

    @property
    def source(self) -> Path:
        return self.folder / "source.json"

    def source_info(self) -> dict:
        """Path, sha256 and parse stats of the file as it was parsed."""
        return json.loads(self.source.read_text())



def build_of(source_info: dict) -> tuple[str, str]:
    """A parsed file's genome build and its evidence, one piece a line, from its `source_info()`."""
    identity = source_info["stats"].get("identity", {})
    return identity.get("build", ""), "\n".join(identity.get("build_evidence", []))


@dataclass
class ParseResult:
    stats: ParseStats
    sha256: str
    seconds: float


def parse_into(
    path: Path,
    files: PartitionFiles,
    batch_records: int = DEFAULT_BATCH_RECORDS,
    bad_records: str = "fail",
    identity: IdentityOptions = IdentityOptions(),
    source_hint: str = "",
    samples: SampleOptions = SampleOptions(),
) -> ParseResult:
    """Parse `path` into the partition's variants/calls Parquet. The previous files are replaced only
    once the whole file parsed: a malformed file leaves the last good parse in place."""
    started = time.perf_counter()
    files.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = files.folder.with_name(files.folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    try:
        with (
            VcfReader(path, batch_records, tmp_dir=staging, bad_records=bad_records, identity=identity, source_hint=source_hint,
                      samples=samples) as reader,
            pq.ParquetWriter(staging / files.variants.name, PARSED_SCHEMA) as variants_out,
            pq.ParquetWriter(staging / files.calls.name, CALL_SCHEMA) as calls_out,
        ):
            for batch in reader.batches():
                variants_out.write_batch(batch.variants)
                calls_out.write_batch(batch.calls)
        sha256 = file_sha256(path)
        (staging / files.source.name).write_text(
            json.dumps({"path": str(path), "sha256": sha256, "stats": asdict(reader.stats)}, indent=1)
        )
        old = files.folder.with_name(files.folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if files.folder.exists():
            os.replace(files.folder, old)
        os.replace(staging, files.folder)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ParseResult(reader.stats, sha256, time.perf_counter() - started)


def stream_batches(path: Path, batch_rows: int = 20_000, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """A Parquet file's batches, read one row group at a time. pyarrow's defaults (pre-buffering,
    threaded reads) read ahead: 1.9 GB resident for a 1M-row embeddings file instead of 350 MB."""
    return open_parquet(path).iter_batches(batch_size=batch_rows, columns=columns, use_threads=False)


def open_parquet(path: Path) -> pq.ParquetFile:
    return pq.ParquetFile(path, pre_buffer=False)


def variant_batches_with_embeddings(files: PartitionFiles, batch_rows: int = 20_000) -> Iterator[pa.RecordBatch]:
    """Parsed variants joined, row by row, with their embedding columns (both files share row order)."""
    variants = stream_batches(files.variants, batch_rows)
    embeddings = stream_batches(files.embeddings, batch_rows)
    for v, e in zip(variants, embeddings, strict=True):
        if v.column(0) != e.column(0):
            raise ValueError(f"{files.embeddings} does not match {files.variants}: re-run the embedding step")
        yield pa.RecordBatch.from_arrays(
            [*v.columns, *e.columns[1:]], schema=pa.schema([*v.schema, *list(e.schema)[1:]])
        )
