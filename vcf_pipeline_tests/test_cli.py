"""The `vcf-pipeline` command as a user runs it, and the project's own sample files."""

import shutil
import subprocess
import sys

import dagster as dg
import pytest

from vcf_pipeline.cli.main import main
from vcf_pipeline.instance.backfills import SelectionError, select_partitions
from vcf_pipeline.instance.in_process_runs import ingest_paths
from vcf_pipeline.lib.settings import Settings
from vcf_pipeline.lib.vcf.synthetic import write_samples
from vcf_pipeline_tests.conftest import SAMPLES, SHARED_VCF


def test_ingest_command_summarises_each_file_and_fails_when_one_fails(tmp_path):
    good = SHARED_VCF / "gatk__SelectVariants__gvcfExample.g.vcf"
    bad = SHARED_VCF / "cyvcf2__tests__empty.vcf"
    header_only = SHARED_VCF / "pysam__cbcf_data__example_vcf42_only_header.vcf"
    run = subprocess.run(
        [sys.executable, "-m", "vcf_pipeline.cli", "ingest", "--home", str(tmp_path), str(good), str(bad), str(header_only)],
        capture_output=True, text=True, timeout=600,
    )
    lines = [ln for ln in run.stdout.splitlines() if ln.strip()]
    assert run.returncode == 1, run.stdout + run.stderr
    assert lines[0].startswith("ok") and "records=12 variants=4" in lines[0] and "ref_blocks_skipped=8" in lines[0]
    assert lines[1].startswith("FAILED") and bad.name in lines[1] and "empty" in lines[1]
    assert lines[2].startswith("ok") and "records=0" in lines[2]
    assert lines[3] == f"2 ingested, 1 failed (home {tmp_path})"
    assert (tmp_path / "dagster_home" / "dagster.yaml").exists()


def test_bundled_samples_are_what_the_generator_writes(tmp_path):
    for written in write_samples(tmp_path):
        assert written.read_bytes() == (SAMPLES / written.name).read_bytes(), written.name


def test_backfill_selects_registers_and_refuses_what_does_not_exist(tmp_path):
    (tmp_path / "incoming").mkdir()
    done = tmp_path / "incoming" / "done.vcf"
    shutil.copyfile(SHARED_VCF / "gatk__SelectVariants__gvcfExample.g.vcf", done)
    assert ingest_paths(tmp_path, [done])[0].ok
    shutil.copyfile(SHARED_VCF / "bcftools__test__many-alts.vcf", tmp_path / "incoming" / "new.vcf")

    with dg.DagsterInstance.get() as instance:  # ingest_paths pointed DAGSTER_HOME at the home
        sources = Settings.load(tmp_path).source_folders()
        missing = select_partitions(instance, sources, everything=True, missing=True)
        assert missing.keys == ["incoming/new.vcf"] and missing.registered_now == ["incoming/new.vcf"]
        assert set(instance.get_dynamic_partitions("vcf_files")) == {"incoming/done.vcf", "incoming/new.vcf"}
        assert select_partitions(instance, sources, source="incoming").keys == ["incoming/done.vcf", "incoming/new.vcf"]
        with pytest.raises(SelectionError, match="incoming/gone.vcf"):
            select_partitions(instance, sources, keys=["incoming/gone.vcf"])
    assert main(["backfill", "--home", str(tmp_path), "--partitions", "incoming/gone.vcf"]) == 2
    assert main(["backfill", "--home", str(tmp_path), "--source", "nowhere"]) == 2


def test_backup_submit_queues_both_backup_assets_as_one_backfill(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()
    (home / "vcf-pipeline.yaml").write_text("s3:\n  bucket: snapshots\n  endpoint: http://127.0.0.1:9\n")
    assert main(["backup", "--submit", "--home", str(home)]) == 0
    assert "backup queued as backfill" in capsys.readouterr().out
    with dg.DagsterInstance.get() as instance:
        [backfill] = instance.get_backfills()
        target = backfill.asset_backfill_data.target_subset
        assert backfill.title == "vcf-pipeline backup --submit"
        assert target.non_partitioned_asset_keys == {dg.AssetKey("lancedb_backup"), dg.AssetKey("kuzu_backup")}
        assert instance.get_runs() == []  # nothing executed here: the S3 endpoint above is never reached


def test_ingest_submit_queues_a_backfill_for_the_daemon_and_runs_nothing_here(tmp_path, capsys):
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(SAMPLES / "family_trio.vcf", drop / "trio.vcf")
    home = tmp_path / "home"
    assert main(["ingest", "--submit", "--build", "GRCh38", "--home", str(home), str(drop)]) == 0
    assert "1 partitions queued (1 newly registered)" in capsys.readouterr().out
    with dg.DagsterInstance.get() as instance:  # the command pointed DAGSTER_HOME at the home
        [backfill] = instance.get_backfills()
        assert backfill.title == "vcf-pipeline ingest --submit" and instance.get_dynamic_partitions("vcf_files") == ["drop/trio.vcf"]
        assert instance.get_runs() == []  # queued for a daemon, nothing executed in this process
    assert Settings.load(home).identity_options("drop/trio.vcf").build == "GRCh38"  # the build travels with the file
