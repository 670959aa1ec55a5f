"""The folder sensor, evaluated with build_sensor_context on a real (temporary) Dagster instance.

`tick` does what the daemon does with a sensor result: it applies the partition requests to the
instance and carries the cursor to the next tick. The files are real VCFs from ../shared."""

from __future__ import annotations

import os
import shutil

import dagster as dg
import pytest

from vcf_pipeline.defs.ingest.partitions import vcf_files
from vcf_pipeline.defs.resources import PipelineSettings
from vcf_pipeline.defs.watch.sensors import vcf_folder_sensor
from vcf_pipeline.lib.stores.warehouse import parse_into
from vcf_pipeline.lib.watch.changes import WatchState, scan_for_changes
from vcf_pipeline_tests.conftest import SHARED_VCF
from vcf_pipeline_tests.files import write_settings

TRIO_LIKE = "htslib__test__vcf44_1.vcf"
OTHER = "bcftools__test__many-alts.vcf"


class Watcher:
    def __init__(self, instance, home, settle_s=0.0, max_files=500):
        self.instance, self.home, self.cursor = instance, home, None
        self.resources = {"settings": PipelineSettings(home=str(home))}
        self.watch(settle_s, max_files)
        self.incoming = home / "incoming"
        self.incoming.mkdir(parents=True, exist_ok=True)

    def watch(self, settle_s: float, max_files: int = 500) -> None:
        """The home's watch settings, as a person would write them in its configuration file; a run per
        file, so that each file's request is seen (test_run_groups.py tests the grouping)."""
        write_settings(self.home, {"watch": {"settle_s": settle_s, "max_files_per_tick": max_files}, "ingest": {"files_per_run": 1}})

    def tick(self) -> dg.SensorResult:
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor, resources=self.resources)
        result = vcf_folder_sensor(context)
        for request in result.dynamic_partitions_requests or []:
            if isinstance(request, dg.AddDynamicPartitionsRequest):
                self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
            else:
                for key in request.partition_keys:
                    self.instance.delete_dynamic_partition(request.partitions_def_name, key)
        self.cursor = result.cursor
        return result

    def partitions(self) -> set[str]:
        return set(self.instance.get_dynamic_partitions(vcf_files.name))

    def drop(self, name: str, source: str = TRIO_LIKE):
        shutil.copyfile(SHARED_VCF / source, self.incoming / name)
        return self.incoming / name


@pytest.fixture
def watcher(tmp_path):
    with dg.instance_for_test() as instance:
        yield Watcher(instance, tmp_path / "home")


def ingest_runs(result):
    return [r for r in result.run_requests if r.job_name == "ingest_vcf"]


def test_new_file_adds_its_partition_and_requests_one_run(watcher):
    watcher.drop("a.vcf")
    result = watcher.tick()
    [run] = ingest_runs(result)
    assert run.partition_key == "incoming/a.vcf"
    assert run.tags["vcf_pipeline/change"] == "new"
    sha = run.tags["vcf_pipeline/sha256"]
    assert sha[:16] in run.run_key
    assert watcher.partitions() == {"incoming/a.vcf"}


def test_unchanged_folder_requests_nothing(watcher):
    watcher.drop("a.vcf")
    watcher.tick()
    again = watcher.tick()
    assert again.run_requests == [] and not again.dynamic_partitions_requests
    assert "1 files listed: 0 new, 0 changed, 0 deleted" in str(again.skip_reason)


def test_changed_content_requests_a_new_run_with_a_new_run_key(watcher):
    path = watcher.drop("a.vcf")
    [first] = ingest_runs(watcher.tick())
    watcher.drop("a.vcf", source=OTHER)
    [second] = ingest_runs(watcher.tick())
    assert second.partition_key == first.partition_key
    assert second.tags["vcf_pipeline/change"] == "changed"
    assert second.run_key != first.run_key and second.tags["vcf_pipeline/sha256"] != first.tags["vcf_pipeline/sha256"]
    # Touched, same content: no run.
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))
    assert watcher.tick().run_requests == []
    # Back to the first content: a run again, and a run key Dagster has not seen (not deduplicated).
    watcher.drop("a.vcf")
    [third] = ingest_runs(watcher.tick())
    assert third.tags["vcf_pipeline/sha256"] == first.tags["vcf_pipeline/sha256"]
    assert third.run_key not in {first.run_key, second.run_key}


def test_deleted_file_deletes_its_partition_and_requests_a_retraction(watcher):
    watcher.drop("a.vcf")
    watcher.drop("b.vcf", source=OTHER)
    watcher.tick()
    (watcher.incoming / "a.vcf").unlink()
    result = watcher.tick()
    [retract] = result.run_requests
    assert retract.job_name == "retract_vcf_files"
    assert retract.run_config["ops"]["retract_from_kuzu"]["config"]["partition_keys"] == ["incoming/a.vcf"]
    assert watcher.partitions() == {"incoming/b.vcf"}
    assert watcher.tick().run_requests == []  # retracted once


def test_file_still_being_written_waits_for_the_settle_time(watcher, tmp_path):
    watcher.watch(settle_s=3600)
    watcher.drop("a.vcf")
    result = watcher.tick()
    assert result.run_requests == [] and watcher.partitions() == set()
    assert "1 still being written" in str(result.skip_reason)
    watcher.watch(settle_s=0)
    assert len(ingest_runs(watcher.tick())) == 1


def test_hidden_temporary_index_and_other_files_are_ignored(watcher):
    for name in (".hidden.vcf", "a.vcf.part", "a.vcf.tmp", "a.vcf~", "a.vcf.crdownload", "notes.txt", "a.vcf.gz.tbi"):
        watcher.drop(name)
    (watcher.incoming / ".cache").mkdir()
    watcher.drop(".cache/b.vcf")
    result = watcher.tick()
    assert result.run_requests == [] and watcher.partitions() == set()
    assert "0 files listed" in str(result.skip_reason)


def test_files_in_subfolders_are_their_own_partitions(watcher):
    (watcher.incoming / "run 7").mkdir()
    watcher.drop("run 7/a.vcf")
    [run] = ingest_runs(watcher.tick())
    assert run.partition_key == "incoming/run 7/a.vcf"


def test_symlink_leading_outside_the_source_is_refused_and_reported_once(watcher, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copyfile(SHARED_VCF / TRIO_LIKE, outside / "secret.vcf")
    (watcher.incoming / "escape.vcf").symlink_to(outside / "secret.vcf")
    (watcher.incoming / "escape_dir").symlink_to(outside, target_is_directory=True)
    watcher.drop("real.vcf")
    (watcher.incoming / "alias.vcf").symlink_to(watcher.incoming / "real.vcf")  # inside: allowed
    sources = watcher.resources["settings"].current().source_folders()
    first = scan_for_changes(sources, WatchState(), set(), settle_s=0)
    assert first.refused == ["incoming/escape.vcf", "incoming/escape_dir"]
    assert scan_for_changes(sources, first.state, set(), settle_s=0).refused == []  # logged once, not every tick

    result = watcher.tick()
    assert sorted(r.partition_key for r in ingest_runs(result)) == ["incoming/alias.vcf", "incoming/real.vcf"]
    assert WatchState.loads(watcher.cursor).refused == {"incoming/escape.vcf", "incoming/escape_dir"}


def test_many_files_are_paged_through_across_ticks(watcher):
    for i in range(1200):
        watcher.drop(f"f{i:04d}.vcf")
    watcher.watch(settle_s=0, max_files=500)
    first = watcher.tick()
    counts = [len(ingest_runs(first))] + [len(ingest_runs(watcher.tick())) for _ in range(3)]
    assert counts == [500, 500, 200, 0]
    assert len(watcher.partitions()) == 1200
    assert len({r.run_key for r in first.run_requests}) == 500


def test_files_ingested_before_the_watch_are_adopted_without_a_run(watcher):
    path = watcher.drop("a.vcf")
    home = watcher.resources["settings"].current()
    parse_into(path, home.partition_files("incoming/a.vcf"))  # as `vcf-pipeline ingest` would have
    watcher.instance.add_dynamic_partitions(vcf_files.name, ["incoming/a.vcf"])
    assert watcher.tick().run_requests == []
    watcher.drop("a.vcf", source=OTHER)  # from now on, changes are runs
    assert len(ingest_runs(watcher.tick())) == 1


def test_a_missing_source_folder_retracts_nothing(watcher, tmp_path, monkeypatch):
    monkeypatch.setenv("VCF_PIPELINE_SOURCES", f"lab={tmp_path / 'mount'}")
    watcher.instance.add_dynamic_partitions(vcf_files.name, ["lab/x.vcf"])
    result = watcher.tick()
    assert result.run_requests == [] and watcher.partitions() == {"lab/x.vcf"}
