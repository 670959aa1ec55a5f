"""Machines that share a warehouse (set by URI; here a local folder both homes name) share its
registry: registered sources, the claim on each local source folder, and the graph's owner. And the
warehouse's commit markers: a reader never sees a step's half-written file."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pytest

from vcf_pipeline.lib.settings import Settings
from vcf_pipeline.lib.stores.graph_owner import GraphElsewhere, GraphOwnership
from vcf_pipeline.lib.stores.warehouse import EMBEDDINGS, PartitionFiles, parse_into
from vcf_pipeline.lib.watch.changes import WatchState, scan_for_changes
from vcf_pipeline.lib.watch.object_source import SourceUnavailable
from vcf_pipeline_tests.conftest import SAMPLES
from vcf_pipeline_tests.files import write_settings

TRIO = SAMPLES / "family_trio.vcf"


def machines(tmp_path):
    shared = tmp_path / "shared-warehouse"
    homes = [tmp_path / name for name in ("machine-a", "machine-b")]
    for home in homes:
        write_settings(home, {"warehouse_uri": str(shared)})
        (home / "incoming").mkdir(parents=True)
    return homes


def test_a_folder_at_the_same_path_on_another_machine_is_not_the_source(tmp_path):
    a, b = machines(tmp_path)
    shutil.copyfile(TRIO, a / "incoming" / "trio.vcf")
    a_sources, b_sources = Settings.load(a).source_folders(), Settings.load(b).source_folders()
    assert list(a_sources.listing("incoming").files) == ["trio.vcf"]  # A lists first: its folder is `incoming`

    # B's sensor, with A's file registered: B's own incoming/ is not listed, so nothing is retracted.
    found = scan_for_changes(b_sources, WatchState(), {"incoming/trio.vcf"}, settle_s=0)
    assert found.deleted == [] and [name for name, _ in found.missing_sources] == ["incoming"]
    assert str(a / "incoming") in found.missing_sources[0][1]
    with pytest.raises(SourceUnavailable, match="machine-a"):
        with b_sources.fetched("incoming/trio.vcf"):
            pass

    # A file B ingests from its own incoming/ gets a source of its own, marked apart from A's.
    shutil.copyfile(TRIO, b / "incoming" / "b.vcf")
    key = b_sources.key_for(b / "incoming" / "b.vcf")
    assert key == "incoming-2/b.vcf"
    with b_sources.fetched(key) as (path, _):
        assert path == b / "incoming" / "b.vcf"
    a_again = Settings.load(a).source_folders()  # the registry is shared: A knows the new source
    assert a_again.folders["incoming-2"] == b / "incoming"
    marks = [(home / "incoming" / ".vcf-pipeline-source").read_text() for home in (a, b)]
    assert marks[0] != marks[1]
    assert list(a_again.listing("incoming").files) == ["trio.vcf"]  # A's claim stands


def test_one_graph_per_deployment(tmp_path):
    a, b = machines(tmp_path)
    registry = Settings.load(a).registry
    owner = GraphOwnership(registry, a / "kuzu").claim()
    assert GraphOwnership(registry, a / "kuzu").claim() == owner  # the owner writes again
    with pytest.raises(GraphElsewhere, match=str(a / "kuzu")):
        GraphOwnership(Settings.load(b).registry, b / "kuzu").claim()
    assert not (b / "kuzu").exists()  # refused before anything was created


def test_a_step_output_is_read_only_once_it_is_whole(tmp_path):
    files = PartitionFiles(tmp_path / "warehouse", "src/trio.vcf")
    parse_into(TRIO, files)
    schema = pa.schema([("variant_id", pa.string())])
    with files.output(EMBEDDINGS) as out:
        out.write_table(pa.table({"variant_id": ["first"]}, schema=schema))
    with pytest.raises(RuntimeError, match="killed"):
        with files.output(EMBEDDINGS) as out, out.writer(schema) as writer:
            writer.write_table(pa.table({"variant_id": ["second"]}, schema=schema))
            raise RuntimeError("killed halfway")
    assert files.embeddings.open().read().column(0).to_pylist() == ["first"]  # the last whole file
    leftovers = sorted(p.name for p in (tmp_path / "warehouse").rglob("embeddings-*.parquet"))
    assert len(leftovers) == 1  # the half-written one was removed

    parse_into(TRIO, files)  # a new parse: the old generation's files go with it
    with pytest.raises(FileNotFoundError, match="embeddings step"):
        files.embeddings.open()
    assert not list((tmp_path / "warehouse").rglob("embeddings-*.parquet"))
