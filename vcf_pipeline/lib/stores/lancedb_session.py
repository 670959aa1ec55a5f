"""How this process talks to LanceDB, whatever the table: one bounded session, and writes retried
when another writer committed first."""

from __future__ import annotations

import time

from vcf_pipeline.lib.stores.lancedb_import import lancedb

_COMMIT_RETRIES = 5
# LanceDB's default caches (6 GB of index, 1 GB of metadata per session) let a 1M-row ingest grow
# to several GB. One bounded session per process still holds the vector index (PQ codes of 1M rows
# are 48 MB) and the BTREE indexes.
_SESSION = None


def session():
    global _SESSION
    if _SESSION is None:
        _SESSION = lancedb.Session(index_cache_size_bytes=512 << 20, metadata_cache_size_bytes=128 << 20)
    return _SESSION


def retry_conflicts(action):
    """Run a write, retrying commit conflicts with backoff (another writer committed first)."""
    for attempt in range(_COMMIT_RETRIES):
        try:
            return action()
        except Exception as exc:  # lance raises plain RuntimeError/OSError for conflicts
            if "conflict" not in str(exc).lower() or attempt == _COMMIT_RETRIES - 1:
                raise
            time.sleep(0.2 * 2**attempt)
