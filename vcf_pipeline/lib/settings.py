"""The one owner of a pipeline home's configuration and of the paths under it.

A home (`--home`, else `VCF_PIPELINE_HOME`, else `./data`) holds its configuration in
`<home>/vcf-pipeline.yaml`; an environment variable, where set, overrides the file's value.
Everything that needs a path, a URI, the model or the S3 target asks a `Settings`: the Dagster
resources, every command, the checks, the benchmarks and the tests. Secrets never go in the file:
S3 keys come from the environment or from an AWS shared-credentials file the file names
(`s3.credentials_file`, `s3.profile`). Besides the settings below, the file holds two sections of
named entries: `sources:` (lib/watch/sources.py) and `references:`, the reference data of each genome
build (`references: {GRCh38: {fasta: ..., gff3: ...}}`, paths relative to the home): the FASTA that
alleles are left-aligned and checked against, and the GFF3 gene model `bcftools csq` annotates
unannotated files with.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SETTINGS_FILE = "vcf-pipeline.yaml"
OLD_SOURCES_FILE = "sources.yaml"
HOME_ENV = "VCF_PIPELINE_HOME"
# DAGSTER_HOME as `prepare_home` exported it for a home: not an operator's choice for another home.
EXPORTED_DAGSTER_HOME = "VCF_PIPELINE_EXPORTED_DAGSTER_HOME"


@dataclass(frozen=True)
class Setting:
    key: str  # dotted: `s3.bucket` is `s3: {bucket: ...}` in the file
    env: str
    kind: type
    default: object
    help: str


SETTINGS = (
    Setting("lancedb_uri", "VCF_PIPELINE_LANCEDB_URI", str, "", "LanceDB folder or s3:// URI (empty: <home>/lancedb)"),
    Setting("warehouse_uri", "VCF_PIPELINE_WAREHOUSE_URI", str, "",
            "folder or s3:// URI of the Parquet files between the steps, and of the registered sources (empty: <home>/warehouse)"),
    Setting("embedding.model", "VCF_PIPELINE_MODEL", str, "all-MiniLM-L6-v2", "sentence-transformers model name or path"),
    Setting("embedding.backend", "VCF_PIPELINE_EMBED_BACKEND", str, "onnx-int8", "onnx-int8, onnx, torch or static"),
    Setting("embedding.device", "VCF_PIPELINE_DEVICE", str, "cpu", "cpu, or cuda with backend torch"),
    Setting("embedding.batch_size", "VCF_PIPELINE_BATCH_SIZE", int, 0, "texts per model call (0: 16 on the CPU, 512 on a GPU)"),
    Setting("embedding.threads", "VCF_PIPELINE_EMBED_THREADS", int, 0, "ONNX Runtime threads (0: its default)"),
    Setting("embedding.model_cache", "VCF_PIPELINE_MODEL_CACHE", str, "~/.cache/vcf_pipeline/models", "where ONNX exports are kept"),
    Setting("parse.batch_records", "VCF_PIPELINE_BATCH_RECORDS", int, 50_000, "VCF records per Arrow batch"),
    Setting("ingest.files_per_run", "VCF_PIPELINE_FILES_PER_RUN", int, 25,
            "files one run may take: the sensor and backfills group new small files (1: a run per file)"),
    Setting("ingest.group_mb", "VCF_PIPELINE_GROUP_MB", float, 64.0, "the sensor groups files up to this total size; a larger file runs alone"),
    Setting("dagster_home", "DAGSTER_HOME", str, "", "Dagster instance folder: run history, cursors, pools (empty: <home>/dagster_home)"),
    Setting("execution.executor", "VCF_PIPELINE_EXECUTOR", str, "in_process",
            "how a run's steps execute: in_process, multiprocess, or module:executor (e.g. dagster_celery:celery_executor)"),
    Setting("reference_fasta", "VCF_PIPELINE_REFERENCE_FASTA", str, "", "one FASTA for files of any build whose contigs it holds"),
    Setting("samples.keep_all_calls_up_to", "VCF_PIPELINE_KEEP_ALL_CALLS_UP_TO", int, 32,
            "files with at most this many samples keep hom-ref and no-call calls too (larger: carriers only, the rest counted)"),
    Setting("explorer.port", "VCF_PIPELINE_EXPLORER_PORT", int, 3001, "port of the variant explorer (vcf-pipeline serve), on 127.0.0.1"),
    Setting("kuzu.buffer_mb", "VCF_PIPELINE_KUZU_BUFFER_MB", int, 512, "Kuzu page cache per open database"),
    Setting("kuzu.load_part_rows", "VCF_PIPELINE_KUZU_LOAD_PART_ROWS", int, 100_000,
            "a file's graph load commits, and opens the database again, after this many new variants and calls (memory flat with file size)"),
    Setting("watch.sensor_interval_s", "VCF_PIPELINE_SENSOR_INTERVAL", int, 15, "seconds between looks at the folders"),
    Setting("watch.settle_s", "VCF_PIPELINE_SETTLE_SECONDS", float, 10.0, "seconds a file must be still before it counts"),
    Setting("watch.max_files_per_tick", "VCF_PIPELINE_MAX_FILES_PER_TICK", int, 500, "files one look takes on"),
    Setting("watch.max_hash_s_per_tick", "VCF_PIPELINE_MAX_HASH_SECONDS", float, 20.0, "hashing budget of one look"),
    Setting("s3.endpoint", "VCF_PIPELINE_S3_ENDPOINT", str, "", "S3-compatible endpoint URL (empty: AWS)"),
    Setting("s3.bucket", "VCF_PIPELINE_S3_BUCKET", str, "", "bucket for snapshots (empty: backups off)"),
    Setting("s3.prefix", "VCF_PIPELINE_S3_PREFIX", str, "vcf-pipeline", "key prefix of snapshots in the bucket"),
    Setting("s3.region", "AWS_REGION", str, "us-east-1", "S3 region"),
    Setting("s3.profile", "VCF_PIPELINE_S3_PROFILE", str, "", "profile in the credentials file (empty: boto3's usual chain)"),
    Setting("s3.credentials_file", "VCF_PIPELINE_S3_CREDENTIALS_FILE", str, "", "AWS shared-credentials file (relative: to the home)"),
    Setting("backup.keep", "VCF_PIPELINE_BACKUP_KEEP", int, 24, "complete snapshots kept"),
    Setting("backup.cron", "VCF_PIPELINE_BACKUP_CRON", str, "0 * * * *", "schedule of snapshots"),
    Setting("backup.after_change_s", "VCF_PIPELINE_BACKUP_AFTER_S", int, 300, "seconds between after-change backup checks"),
)
_BY_KEY = {s.key: s for s in SETTINGS}


class SettingsError(ValueError):
    """The configuration file is unreadable or holds a value of the wrong kind."""


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    """`home`, else `VCF_PIPELINE_HOME`, else `./data`."""
    return Path(home or os.environ.get(HOME_ENV) or "data").resolve()


@dataclass(frozen=True)
class Settings:
    """A home's effective configuration: each value, and where it came from."""

    home: Path
    values: dict[str, object]
    origins: dict[str, str]  # key -> "default", the file's path, or "$VARIABLE"
    sources: dict = field(default_factory=dict)  # the file's `sources:` section, as written
    references: dict = field(default_factory=dict)  # build -> {"fasta": Path, "gff3": Path}

    @classmethod
    def load(cls, home: str | os.PathLike | None = None, environ: dict | None = None) -> "Settings":
        home = resolve_home(home)
        environ = os.environ if environ is None else environ
        path = home / SETTINGS_FILE
        written = _read(path)
        values, origins = {}, {}
        for s in SETTINGS:
            value, origin = _lookup(written, s.key), str(path)
            if s.env in environ and environ[s.env] != "" and not (s.key == "dagster_home" and environ[s.env] == environ.get(EXPORTED_DAGSTER_HOME)):
                value, origin = environ[s.env], f"${s.env}"
            if value is None:
                values[s.key], origins[s.key] = s.default, "default"
                continue
            try:
                if s.kind is int and isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)  # int(2.5) would quietly be 2
                values[s.key] = s.kind(value)
            except (TypeError, ValueError):
                raise SettingsError(f"{origin}: {s.key} must be {s.kind.__name__}, not {value!r}") from None
            origins[s.key] = origin
        sources, origins["sources"] = written.get("sources"), str(path)
        if sources is None and (home / OLD_SOURCES_FILE).exists():
            # Homes from before the configuration file kept their sources in sources.yaml.
            sources, origins["sources"] = _read(home / OLD_SOURCES_FILE).get("sources"), str(home / OLD_SOURCES_FILE)
        if not isinstance(sources or {}, dict):
            raise SettingsError(f"{origins['sources']}: `sources:` must map names to folders")
        return cls(home, values, origins, sources or {}, _references(written.get("references"), home, path))

    def __getitem__(self, key: str):
        return self.values[key]

    def explain(self) -> list[dict]:
        """Every setting with its value, its origin and what it does (for `vcf-pipeline config`)."""
        # defaults under the home
        effective = {"lancedb_uri": self.lancedb_uri, "warehouse_uri": self.warehouse.uri, "dagster_home": str(self.dagster_home)}
        return [
            {"key": s.key, "value": effective.get(s.key, self.values[s.key]), "from": self.origins[s.key], "env": s.env, "help": s.help}
            for s in SETTINGS
        ]

    # --- paths under the home -------------------------------------------------------------------
    @property
    def file(self) -> Path:
        return self.home / SETTINGS_FILE

    @property
    def lancedb_uri(self) -> str:
        return self["lancedb_uri"] or str(self.home / "lancedb")

    @property
    def kuzu_path(self) -> Path:
        return self.home / "kuzu" / "graph.kuzu"

    @property
    def warehouse(self):
        """The warehouse root (lib/stores/warehouse_root.py): a local folder or an object-store prefix."""
        from vcf_pipeline.lib.stores.warehouse_root import WarehouseRoot

        uri = self["warehouse_uri"]
        if "://" in uri:
            return WarehouseRoot.at(uri, self.object_store_options() if uri.startswith("s3://") else None)
        return WarehouseRoot.local(self.home / Path(uri).expanduser() if uri else self.home / "warehouse")

    @property
    def dagster_home(self) -> Path:
        named = self["dagster_home"]
        return (self.home / Path(named).expanduser()).resolve() if named else self.home / "dagster_home"

    @property
    def s3_folder(self) -> Path:
        """The local S3 server's data and its dev credentials."""
        return self.home / "s3"

    @property
    def credentials_file(self) -> Path | None:
        named = self["s3.credentials_file"]
        return (self.home / Path(named).expanduser()) if named else None

    @property
    def model_cache(self) -> Path:
        return Path(self["embedding.model_cache"]).expanduser()

    # --- what the paths hold --------------------------------------------------------------------
    def source_folders(self):
        from vcf_pipeline.lib.watch.sources import Sources

        return Sources.load(self.home, self.sources, registry=self.registry, shared_registry=self.shared_registry, s3_client=self.s3_client)

    @property
    def shared_registry(self) -> bool:
        """A warehouse set by URI is a deployment's, which several machines may share."""
        return bool(self["warehouse_uri"])

    @property
    def registry(self):
        """Where the commands record registered sources, per-file builds and the graph's owner: the
        home, or beside a warehouse set by URI, so that every machine sharing it sees the same."""
        from vcf_pipeline.lib.stores.warehouse_root import WarehouseRoot

        if not self.shared_registry:
            return WarehouseRoot.local(self.home)
        warehouse = self.warehouse
        return WarehouseRoot(warehouse.fs, warehouse.path("registry"), warehouse.uri + "/registry")

    def s3_client(self):
        """A boto3 client of the home's S3 endpoint (lib/backup/s3_client.py)."""
        from vcf_pipeline.lib.backup.s3_client import s3_client

        return s3_client(self)

    def identity_options(self, partition_key: str, sources=None):
        """The build and reference data that apply to this partition's file (lib/vcf/identity.py);
        `sources`, when the caller has them loaded already (`source_folders()`)."""
        from vcf_pipeline.lib.vcf.identity import IdentityOptions

        chosen = (sources or self.source_folders()).identity_for(partition_key)
        return IdentityOptions(
            **chosen,
            references={build: data["fasta"] for build, data in self.references.items() if "fasta" in data},
            any_reference=Path(self["reference_fasta"]).expanduser().resolve() if self["reference_fasta"] else None,
            gene_models={build: data["gff3"] for build, data in self.references.items() if "gff3" in data},
        )

    def partition_files(self, partition_key: str):
        from vcf_pipeline.lib.stores.warehouse import PartitionFiles

        return PartitionFiles(self.warehouse, partition_key)

    def variant_store(self):
        from vcf_pipeline.lib.stores.variant_store import VariantStore

        if self.lancedb_uri.startswith("s3://"):
            return VariantStore(self.lancedb_uri, storage_options=self.object_store_options())
        return VariantStore(self.lancedb_uri)

    def object_store_options(self) -> dict[str, str]:
        """Endpoint, region and credentials of the home's S3 target, as LanceDB takes them."""
        from vcf_pipeline.lib.backup.s3_client import object_store_options

        return object_store_options(self)

    def graph_store(self):
        from vcf_pipeline.lib.stores.graph_owner import (
            GraphElsewhere,
            GraphOwnership,
            snapshot_copy,
        )
        from vcf_pipeline.lib.stores.graph_store import GraphStore

        if not self.shared_registry:  # one machine: its graph is the graph
            return GraphStore(self.kuzu_path, buffer_mb=self["kuzu.buffer_mb"], part_rows=self["kuzu.load_part_rows"])
        ownership = GraphOwnership(self.registry, self.kuzu_path.parent)
        owner = ownership.owner()
        if ownership.holds(owner):
            return GraphStore(self.kuzu_path, buffer_mb=self["kuzu.buffer_mb"], before_write=ownership.claim, part_rows=self["kuzu.load_part_rows"])
        # Another machine's folder is the graph: read its latest snapshot, write nothing here.
        path, snapshot = snapshot_copy(self.snapshot_bucket(), self.home / "graph-snapshots")

        def refuse():
            ownership.claim()  # raises GraphElsewhere, naming the owner
            raise GraphElsewhere(f"{path} is a snapshot copy")

        return GraphStore(path, buffer_mb=self["kuzu.buffer_mb"], before_write=refuse, snapshot=snapshot)

    def write_journal(self):
        from vcf_pipeline.lib.stores.write_journal import WriteJournal

        return WriteJournal(self.home / "writes")

    def embedder(self):
        from vcf_pipeline.lib.embedding.embedder import Embedder

        return Embedder(
            model=self["embedding.model"], backend=self["embedding.backend"], device=self["embedding.device"],
            batch_size=self["embedding.batch_size"], threads=self["embedding.threads"] or None, model_cache=self.model_cache,
        )

    def snapshot_bucket(self):
        """The S3 bucket of this home's snapshots (S3SettingsError when none is configured)."""
        from vcf_pipeline.lib.backup.s3_client import snapshot_bucket

        return snapshot_bucket(self)


def _read(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        written = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(written, dict):
        raise SettingsError(f"{path}: expected a mapping of settings")
    unknown = _unknown_keys(written)
    if unknown:
        raise SettingsError(f"{path}: unknown setting(s) {', '.join(unknown)}; `vcf-pipeline config` lists them")
    return written


def _references(section, home: Path, path: Path) -> dict:
    from vcf_pipeline.lib.vcf.identity import BuildError, build_of

    if section is None:
        return {}
    shape = "`references:` maps a build to {fasta: path, gff3: path}"
    if not isinstance(section, dict):
        raise SettingsError(f"{path}: {shape}")
    found = {}
    for name, data in section.items():
        if not isinstance(data, dict) or not data or set(data) - {"fasta", "gff3"} or not all(isinstance(v, str) for v in data.values()):
            raise SettingsError(f"{path}: references.{name}: {shape}")
        try:
            build = build_of(str(name))
        except BuildError as exc:
            raise SettingsError(f"{path}: references.{name}: {exc}") from None
        found[build] = {kind: (home / Path(value).expanduser()).resolve() for kind, value in data.items()}
    return found


def _lookup(written: dict, key: str):
    value = written
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _unknown_keys(written: dict, prefix: str = "") -> list[str]:
    unknown = []
    for name, value in written.items():
        key = f"{prefix}{name}"
        if key in ("sources", "references"):
            continue
        if isinstance(value, dict) and any(k.startswith(key + ".") for k in _BY_KEY):
            unknown += _unknown_keys(value, key + ".")
        elif key not in _BY_KEY:
            unknown.append(key)
    return unknown
