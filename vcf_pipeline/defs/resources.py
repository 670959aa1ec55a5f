"""Configuration shared by the assets: where the stores live and which model embeds."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from vcf_pipeline.instance import resolve_home
from vcf_pipeline.lib.embed import DEFAULT_BACKEND, DEFAULT_BATCH_SIZE, DEFAULT_MODEL, Embedder
from vcf_pipeline.lib.kuzu_store import GraphStore
from vcf_pipeline.lib.lancedb_store import VariantStore
from vcf_pipeline.lib.sources import Sources
from vcf_pipeline.lib.warehouse import PartitionFiles
from vcf_pipeline.lib.write_journal import WriteJournal


class PipelineSettings(dg.ConfigurableResource):
    """The pipeline home (`VCF_PIPELINE_HOME`) and the stores under it."""

    home: str = ""  # empty: $VCF_PIPELINE_HOME when the step runs, else ./data
    lancedb_uri: str = ""  # default <home>/lancedb; may be s3://...
    batch_records: int = 50_000

    @property
    def home_path(self) -> Path:
        return resolve_home(self.home or None)

    def sources(self) -> Sources:
        return Sources.load(self.home_path)

    def files(self, partition_key: str) -> PartitionFiles:
        return PartitionFiles(self.home_path / "warehouse", partition_key)

    def variant_store(self) -> VariantStore:
        return VariantStore(self.lancedb_uri or self.home_path / "lancedb")

    def graph_store(self) -> GraphStore:
        return GraphStore(self.home_path / "kuzu" / "graph.kuzu")

    def write_journal(self) -> WriteJournal:
        return WriteJournal(self.home_path / "writes")


class EmbeddingModel(dg.ConfigurableResource):
    """The sentence-transformers model (name or path), the backend that runs it (`onnx-int8`,
    `onnx`, `torch` or `static`), the device (`torch` only) and the batch size."""

    model: str = DEFAULT_MODEL
    backend: str = DEFAULT_BACKEND
    device: str = "cpu"
    batch_size: int = DEFAULT_BATCH_SIZE

    def embedder(self) -> Embedder:
        return Embedder(model=self.model, backend=self.backend, device=self.device, batch_size=self.batch_size)


class FolderWatch(dg.ConfigurableResource):
    """How the folder sensor looks at the sources: how long a file must be still before it counts
    (half-copied files are never ingested), and how much one tick may take on."""

    settle_seconds: float = 10.0
    max_files_per_tick: int = 500
    max_hash_seconds_per_tick: float = 20.0  # well under the 60 s sensor timeout


def _env_or(name: str, default):
    """EnvVar when the variable is set (so the UI shows where a value came from), else the default."""
    return dg.EnvVar(name) if os.environ.get(name) else default


def _env_number(name: str, default, kind=float):
    if not os.environ.get(name):
        return default
    return dg.EnvVar.int(name) if kind is int else kind(os.environ[name])


def default_resources() -> dict:
    return {
        "folder_watch": FolderWatch(
            settle_seconds=_env_number("VCF_PIPELINE_SETTLE_SECONDS", 10.0),
            max_files_per_tick=_env_number("VCF_PIPELINE_MAX_FILES_PER_TICK", 500, int),
        ),
        "settings": PipelineSettings(lancedb_uri=_env_or("VCF_PIPELINE_LANCEDB_URI", "")),
        "embedding_model": EmbeddingModel(
            model=_env_or("VCF_PIPELINE_MODEL", DEFAULT_MODEL),
            backend=_env_or("VCF_PIPELINE_EMBED_BACKEND", DEFAULT_BACKEND),
            device=_env_or("VCF_PIPELINE_DEVICE", "cpu"),
            batch_size=_env_number("VCF_PIPELINE_BATCH_SIZE", DEFAULT_BATCH_SIZE, int),
        ),
    }
