"""Sources in object storage: every VCF under `s3://bucket/prefix/`, on any S3-compatible endpoint.

An object is listed with its size, ETag and last-modified time, which stand in for a file's size,
content hash and mtime: its content is never read to tell whether it changed, only to parse it, and
pysam reads a local file, so a run downloads the object to a temporary file first.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from vcf_pipeline.lib.watch.folder_scan import Entry, Listing, is_candidate_name


class SourceUnavailable(OSError):
    """A source could not be listed (unmounted folder, unreachable endpoint, refused credentials):
    its files are neither new nor deleted until it can be listed again."""


@dataclass(frozen=True)
class ObjectPrefix:
    """Where an object-store source lives."""

    bucket: str
    prefix: str  # "" or ending in "/"

    @classmethod
    def parse(cls, uri: str) -> "ObjectPrefix":
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"{uri!r} is not an s3://bucket/prefix URI")
        prefix = parsed.path.strip("/")
        return cls(parsed.netloc, f"{prefix}/" if prefix else "")

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def __str__(self) -> str:
        return self.uri


def content_id(entry: Entry) -> str:
    """What stands for an object's content: its ETag (an MD5, or a digest of the parts' MD5s for a
    multipart upload), with its size."""
    return f"etag:{entry.etag}:{entry.size}"


def list_objects(client, where: ObjectPrefix) -> Listing:
    """The candidate VCF objects under the prefix, all pages of them; hidden names (a path part
    starting with '.') skipped as in a folder."""
    files: dict[str, Entry] = {}
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=where.bucket, Prefix=where.prefix):
            for item in page.get("Contents", []):
                relative = item["Key"][len(where.prefix):]
                parts = PurePosixPath(relative).parts
                if not parts or any(p.startswith(".") for p in parts) or not is_candidate_name(parts[-1]):
                    continue
                modified = int(item["LastModified"].timestamp() * 1e9)
                files[relative] = Entry(item["Size"], modified, modified, item["ETag"].strip('"'))
    except Exception as exc:  # botocore's errors: the endpoint, the credentials, the bucket
        raise SourceUnavailable(f"cannot list {where.uri}: {exc}") from exc
    return Listing(files, [])


@contextmanager
def downloaded(client, where: ObjectPrefix, relative: str) -> Iterator[tuple[Path, dict]]:
    """The object as a local temporary file (keeping its name, so its format is recognised), and
    what identifies the copy: its URI and content id."""
    key = where.prefix + relative
    with tempfile.TemporaryDirectory(prefix="vcf-object-") as folder:
        target = Path(folder) / PurePosixPath(relative).name
        try:
            response = client.get_object(Bucket=where.bucket, Key=key)
        except Exception as exc:
            raise FileNotFoundError(f"s3://{where.bucket}/{key}: {exc}") from exc
        with open(target, "wb") as out:
            shutil.copyfileobj(response["Body"], out, 1 << 20)
        entry = Entry(response["ContentLength"], 0, 0, response["ETag"].strip('"'))
        yield target, {"uri": f"s3://{where.bucket}/{key}", "content_id": content_id(entry)}
