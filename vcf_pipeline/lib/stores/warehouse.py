"""Per-partition Parquet files between the pipeline's steps: parsed variants and calls, embeddings.

Each step streams: a file is parsed batch by batch into Parquet writers, and later steps read it back
batch by batch, so memory stays bounded whatever the file's size.
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from vcf_pipeline.lib.stores.warehouse_root import WarehouseFile, WarehouseRoot
from vcf_pipeline.lib.vcf.calls import CALL_SCHEMA, SampleOptions
from vcf_pipeline.lib.vcf.identity import IdentityOptions
from vcf_pipeline.lib.vcf.parsed import PARSED_SCHEMA, ParseStats
from vcf_pipeline.lib.vcf.reader import DEFAULT_BATCH_RECORDS, VcfReader
from vcf_pipeline.lib.watch.partition_keys import storage_name


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# The steps' files of a partition, by the name the commit marker gives them.
PARSED, CALLS, EMBEDDINGS, STORED_ROWS, REFRESHED_ROWS = "variants", "calls", "embeddings", "stored_rows", "refreshed_rows"
COMMIT_MARKER = "commit.json"


@dataclass(frozen=True)
class PartitionFiles:
    """One partition's intermediate files under the warehouse root.

    A partition's folder holds one folder per parse (a generation) and `commit.json`, which names the
    generation, the files each step has finished in it and the parsed file's source information. A
    file is read only through the marker, and a step's output is named there only once it is written
    whole, so a reader never sees a half-written file, on a local disk or in an object store.
    """

    root: WarehouseRoot
    partition_key: str

    def __post_init__(self):
        if not isinstance(self.root, WarehouseRoot):
            object.__setattr__(self, "root", WarehouseRoot.local(self.root))

    @property
    def folder(self) -> str:
        return self.root.path(storage_name(self.partition_key))

    @property
    def marker(self) -> str:
        return posixpath.join(self.folder, COMMIT_MARKER)

    def commit(self) -> dict | None:
        """The partition's commit marker, or None before its first complete parse."""
        return self.root.read_json(self.marker) or self._unmarked_commit()

    def _unmarked_commit(self) -> dict | None:
        """A partition parsed before commit markers: its files sat directly in its folder, and its
        `source.json` was renamed into place last, so the same guarantee held."""
        source = self.root.read_json(posixpath.join(self.folder, "source.json"))
        if source is None:
            return None
        present = {info.base_name for info in self.root.fs.get_file_info(pafs.FileSelector(self.folder))}
        names = (PARSED, CALLS, EMBEDDINGS, STORED_ROWS, REFRESHED_ROWS)
        return {"generation": "", "files": {n: f"{n}.parquet" for n in names if f"{n}.parquet" in present}, "source": source}

    def exists(self) -> bool:
        return self.commit() is not None

    def committed(self, name: str) -> WarehouseFile:
        """The finished file `name` of the current parse (FileNotFoundError when that step has not run)."""
        commit = self.commit()
        if commit is None or name not in commit["files"]:
            step = "parse" if commit is None else f"{name} step"
            raise FileNotFoundError(f"{self.partition_key}: no {name} in the warehouse ({self.root.uri}): run the {step} first")
        return self.root.file(posixpath.join(self.folder, commit["files"][name]))

    @property
    def variants(self) -> WarehouseFile:
        return self.committed(PARSED)

    @property
    def calls(self) -> WarehouseFile:
        return self.committed(CALLS)

    @property
    def embeddings(self) -> WarehouseFile:
        return self.committed(EMBEDDINGS)

    @property
    def stored_rows(self) -> WarehouseFile:
        """The file's variants as the LanceDB step stored them (merged across files, curated): what
        the graph loads."""
        return self.committed(STORED_ROWS)

    @property
    def refreshed_rows(self) -> WarehouseFile:
        """Variants the file no longer holds that other files do, with their annotation merged anew."""
        return self.committed(REFRESHED_ROWS)

    def source_info(self) -> dict:
        """Path, sha256 and parse stats of the file as it was parsed."""
        commit = self.commit()
        if commit is None:
            raise FileNotFoundError(f"{self.partition_key}: not parsed into the warehouse ({self.root.uri}) yet")
        return commit["source"]

    def parsed_content(self) -> str | None:
        """The id of the content last parsed (`Sources.content_id`), or None before a parse."""
        commit = self.commit()
        return (commit["source"].get("content_id") or commit["source"]["sha256"]) if commit else None

    @contextmanager
    def output(self, name: str) -> Iterator[WarehouseFile]:
        """A new file for step output `name` of the current parse, named in the marker once the
        block ends without error; the file it replaces stays readable until then."""
        commit = self.commit()
        if commit is None:
            raise FileNotFoundError(f"{self.partition_key}: not parsed into the warehouse ({self.root.uri}) yet")
        relative = posixpath.join(commit["generation"], f"{name}-{secrets.token_hex(4)}.parquet")
        target = self.root.file(posixpath.join(self.folder, relative))
        try:
            yield target
        except BaseException:
            self.root.delete_file(target.path)
            raise
        latest = self.commit()
        if latest is None or latest["generation"] != commit["generation"]:
            self.root.delete_file(target.path)
            raise RuntimeError(f"{self.partition_key}: parsed again while its {name} was written; run the step again")
        replaced = latest["files"].get(name)
        latest["files"][name] = relative
        self.root.write_json(self.marker, latest)
        if replaced:
            self.root.delete_file(posixpath.join(self.folder, replaced))

    def remove(self) -> None:
        """Forget the partition: the marker first, so nothing is read from a half-deleted folder."""
        self.root.delete_file(self.marker)
        self.root.delete_folder(self.folder)


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
    source: dict | None = None,
) -> ParseResult:
    """Parse `path` into a new generation of the partition's variants/calls Parquet, committed only
    once the whole file parsed: a malformed file leaves the last good parse in place. `source` adds
    to the recorded source information (an object's URI and ETag)."""
    started = time.perf_counter()
    generation = f"g{time.time_ns():x}{secrets.token_hex(2)}"
    folder = posixpath.join(files.folder, generation)
    files.root.make_folder(folder)
    variants = files.root.file(posixpath.join(folder, "variants.parquet"))
    calls = files.root.file(posixpath.join(folder, "calls.parquet"))
    try:
        with (
            tempfile.TemporaryDirectory(prefix="vcf-parse-") as scratch,
            VcfReader(path, batch_records, tmp_dir=Path(scratch), bad_records=bad_records, identity=identity,
                      source_hint=source_hint, samples=samples) as reader,
            variants.writer(PARSED_SCHEMA) as variants_out,
            calls.writer(CALL_SCHEMA) as calls_out,
        ):
            for batch in reader.batches():
                variants_out.write_batch(batch.variants)
                calls_out.write_batch(batch.calls)
        sha256 = file_sha256(path)
        previous = files.commit()
        files.root.write_json(files.marker, {
            "generation": generation,
            "files": {PARSED: f"{generation}/variants.parquet", CALLS: f"{generation}/calls.parquet"},
            "source": {"path": str(path), "sha256": sha256, "stats": asdict(reader.stats), **(source or {})},
        })
    except BaseException:
        files.root.delete_folder(folder)
        raise
    if previous and previous["generation"]:
        files.root.delete_folder(posixpath.join(files.folder, previous["generation"]))
    elif previous:  # an unmarked parse: its files sit beside the new generation
        for name in [*previous["files"].values(), "source.json"]:
            files.root.delete_file(posixpath.join(files.folder, name))
    return ParseResult(reader.stats, sha256, time.perf_counter() - started)


def stream_batches(file: WarehouseFile, batch_rows: int = 20_000, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """A Parquet file's batches, read one row group at a time (bounded memory)."""
    return file.open().iter_batches(batch_size=batch_rows, columns=columns, use_threads=False)


def variant_batches_with_embeddings(files: PartitionFiles, batch_rows: int = 20_000) -> Iterator[pa.RecordBatch]:
    """Parsed variants joined, row by row, with their embedding columns (both files share row order)."""
    variants = stream_batches(files.variants, batch_rows)
    embeddings = _embedding_batches(files.embeddings, batch_rows)
    for v, e in zip(variants, embeddings, strict=True):
        if v.column(0) != e.column(0):
            raise ValueError(f"{files.embeddings} does not match {files.variants}: re-run the embedding step")
        yield pa.RecordBatch.from_arrays(
            [*v.columns, *e.columns[1:]], schema=pa.schema([*v.schema, *list(e.schema)[1:]])
        )


def _embedding_batches(file: WarehouseFile, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The embeddings file's batches. A file of texts the store had already (a re-ingest) holds no
    vector at all: its vectors are not read but made null. Arrow lays out even a null fixed-size
    list in full, so reading 100k of them took 0.87 s and 151 MB."""
    parquet = file.open()
    schema, metadata = parquet.schema_arrow, parquet.metadata
    leaf = next((i for i in range(metadata.num_columns) if metadata.schema.column(i).path.split(".")[0] == "embedding"), None)
    no_vectors = leaf is not None and all(
        (stats := metadata.row_group(group).column(leaf).statistics) is not None and stats.num_values == 0
        for group in range(metadata.num_row_groups)
    )
    if not no_vectors:
        yield from stream_batches(file, batch_rows)
        return
    others = [name for name in schema.names if name != "embedding"]
    for batch in stream_batches(file, batch_rows, columns=others):
        columns = [batch.column(name) if name != "embedding" else null_vectors(batch.num_rows, schema.field(name).type) for name in schema.names]
        yield pa.RecordBatch.from_arrays(columns, schema=schema)


@functools.lru_cache(maxsize=4)
def null_vectors(rows: int, vector_type: pa.FixedSizeListType) -> pa.Array:
    """`rows` null vectors (`pa.nulls` of a fixed-size list writes zeros for every one: 31 MB per
    20k vectors of 384) over zeros numpy leaves untouched, pages the process never maps in."""
    zeros = pa.array(np.zeros(rows * vector_type.list_size, np.float32))
    return pa.FixedSizeListArray.from_arrays(zeros, type=vector_type, mask=pa.array(np.ones(rows, bool)))