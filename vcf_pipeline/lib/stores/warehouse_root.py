"""The warehouse's root: a local folder or an object-store prefix (`s3://bucket/prefix`), reached
through one `pyarrow.fs` filesystem, so every step reads and writes it the same way on any machine.

Object stores have no rename, so nothing here relies on one to publish data: a writer puts a file
under a name no reader knows yet, and a small JSON document (a partition's commit marker) then names
it. One object PUT is atomic on S3; on a local disk the document is written beside and renamed.
"""

from __future__ import annotations

import json
import os
import posixpath
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq


@dataclass(frozen=True)
class WarehouseFile:
    """One Parquet file in the warehouse."""

    fs: pafs.FileSystem
    path: str
    shown: str  # the URI or local path, for messages

    def __str__(self) -> str:
        return self.shown

    def open(self) -> pq.ParquetFile:
        # pyarrow's defaults (pre-buffering, threaded reads) read ahead: 1.9 GB resident for a
        # 1M-row embeddings file instead of 350 MB.
        try:
            source = self.fs.open_input_file(self.path)
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.shown} does not exist") from None
        return pq.ParquetFile(source, pre_buffer=False)

    def schema(self) -> pa.Schema:
        return self.open().schema_arrow

    def writer(self, schema: pa.Schema) -> pq.ParquetWriter:
        return pq.ParquetWriter(self.path, schema, filesystem=self.fs)

    def write_table(self, table: pa.Table) -> None:
        pq.write_table(table, self.path, filesystem=self.fs)


@dataclass(frozen=True)
class WarehouseRoot:
    """Where the warehouse lives: `fs` and the root `base` inside it."""

    fs: pafs.FileSystem
    base: str
    uri: str

    @classmethod
    def local(cls, folder: Path | str) -> "WarehouseRoot":
        folder = Path(folder).resolve()
        return cls(pafs.LocalFileSystem(), folder.as_posix(), str(folder))

    @classmethod
    def at(cls, uri: str, s3_options: dict[str, str] | None = None) -> "WarehouseRoot":
        """A root from a URI: `s3://bucket/prefix` (with LanceDB-style `s3_options`: endpoint,
        region, keys) or a local path."""
        parsed = urlparse(uri)
        if parsed.scheme == "s3":
            return cls(s3_filesystem(s3_options or {}), f"{parsed.netloc}/{parsed.path.strip('/')}".rstrip("/"), uri.rstrip("/"))
        if parsed.scheme in ("", "file"):
            return cls.local(parsed.path if parsed.scheme else uri)
        raise ValueError(f"warehouse URI {uri!r}: only local paths and s3:// are supported")

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def path(self, *parts: str) -> str:
        return posixpath.join(self.base, *parts)

    def shown(self, path: str) -> str:
        return self.uri + path[len(self.base):]

    def file(self, path: str) -> WarehouseFile:
        return WarehouseFile(self.fs, path, self.shown(path))

    def make_folder(self, path: str) -> None:
        if self.is_local:
            Path(path).mkdir(parents=True, exist_ok=True, mode=0o700)

    def read_json(self, path: str) -> dict | None:
        """The document at `path`, or None when there is none."""
        try:
            with self.fs.open_input_stream(path) as stream:
                return json.loads(stream.read())
        except FileNotFoundError:
            return None

    def write_json(self, path: str, data: dict) -> None:
        """Replace the document at `path` in one step: readers see the old one or the new one."""
        body = json.dumps(data, indent=1, sort_keys=True).encode()
        if not self.is_local:
            with self.fs.open_output_stream(path) as out:  # one PUT
                out.write(body)
            return
        self.make_folder(posixpath.dirname(path))
        partial = f"{path}.{secrets.token_hex(4)}.partial"
        with self.fs.open_output_stream(partial) as out:
            out.write(body)
        os.chmod(partial, 0o600)  # the home's state: owner-only, like the folders
        self.fs.move(partial, path)

    def delete_folder(self, path: str) -> None:
        try:
            self.fs.delete_dir(path)
        except FileNotFoundError:
            pass

    def delete_file(self, path: str) -> None:
        try:
            self.fs.delete_file(path)
        except FileNotFoundError:
            pass


def s3_filesystem(options: dict[str, str]) -> pafs.S3FileSystem:
    """A pyarrow S3 filesystem from the options LanceDB takes (`object_store_options`)."""
    endpoint = urlparse(options.get("endpoint", "")) if options.get("endpoint") else None
    return pafs.S3FileSystem(
        access_key=options.get("aws_access_key_id"),
        secret_key=options.get("aws_secret_access_key"),
        session_token=options.get("aws_session_token"),
        region=options.get("region"),
        endpoint_override=endpoint.netloc if endpoint else None,
        scheme=endpoint.scheme if endpoint else "https",
        allow_bucket_creation=False,
        check_directory_existence_before_creation=False,
    )
