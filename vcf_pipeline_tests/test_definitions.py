"""The Dagster layer as Dagster sees it: the definitions load, `dg check defs` passes, and the
private `dagster._core` is imported in one place only."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml

from vcf_pipeline_tests.conftest import REPO

INGEST = {"parsed_variants", "variant_embeddings", "lancedb_variants", "kuzu_graph"}


def test_definitions_load_everything_from_the_defs_folder():
    from vcf_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == INGEST | {"lancedb_backup", "kuzu_backup"}
    assert {j.name for j in defs.resolve_all_job_defs()} >= {"ingest_vcf", "retract_vcf_files", "backup_stores"}
    assert {s.name for s in defs.sensors} == {"vcf_folder_sensor", "split_failed_groups", "backup_after_changes"}
    assert {s.name for s in defs.schedules} == {"backup_stores_schedule"}
    ingest = defs.resolve_job_def("ingest_vcf")
    assert {k.to_user_string() for k in ingest.asset_layer.executable_asset_keys} == INGEST
    # The per-file checks belong to the file's partition.
    for name in INGEST:
        specs = list(defs.get_assets_def(name).check_specs)
        assert specs and all(spec.partitions_def is not None for spec in specs), name


def test_dg_check_defs_passes():
    env = {**os.environ, "VIRTUAL_ENV": str(Path(sys.executable).parent.parent), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([str(Path(sys.executable).parent / "dg"), "check", "defs"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "All definitions loaded successfully" in run.stdout + run.stderr


def test_asset_steps_run_directly_with_a_partition_context(tmp_path):
    from vcf_pipeline.defs.ingest.assets import parsed_variants
    from vcf_pipeline.defs.resources import PipelineSettings
    from vcf_pipeline_tests.conftest import SAMPLES, expected_from_pysam

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "trio.vcf").write_bytes((SAMPLES / "family_trio.vcf").read_bytes())
    context = dg.build_asset_context(partition_key="incoming/trio.vcf")
    result = parsed_variants(context, PipelineSettings(home=str(tmp_path)))
    variants, _ = expected_from_pysam(incoming / "trio.vcf")
    assert result.metadata["dagster/row_count"] == len(variants)
    [check] = result.check_results
    assert check.passed and "incoming/trio.vcf" in check.description


def test_private_dagster_is_imported_in_one_documented_module():
    private = re.compile(r"^\s*(from|import)\s+dagster\._", re.M)
    users = sorted(str(p.relative_to(REPO)) for p in REPO.glob("*/**/*.py") if ".venv" not in p.parts and private.search(p.read_text()))
    assert users == ["vcf_pipeline/instance/dagster_internals.py"]


def test_dagster_started_by_hand_on_a_fresh_home_gets_the_instance_settings(tmp_path):
    from vcf_pipeline.instance.instance_settings import INSTANCE_SETTINGS

    dagster_home = tmp_path / "dagster_home"
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "VCF_PIPELINE_HOME": str(tmp_path)}
    # What the code server of `dg dev` / `dagster dev` does first: load the definitions.
    loaded = subprocess.run([sys.executable, "-c", "import vcf_pipeline.definitions"], env=env, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    assert (dagster_home / "dagster.yaml").read_bytes() == INSTANCE_SETTINGS.read_bytes()
    assert "restart Dagster to apply them" in loaded.stderr

    # An operator's own file: their values stay, the project's pools and run queue are merged in.
    operators = {"telemetry": {"enabled": True}, "run_coordinator": {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"},
                 "concurrency": {"runs": {"max_concurrent_runs": 8}}}
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(operators))
    again = subprocess.run([sys.executable, "-c", "import vcf_pipeline.definitions"], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "restart Dagster to apply them" in again.stderr
    written = yaml.safe_load((dagster_home / "dagster.yaml").read_text())
    project = yaml.safe_load(INSTANCE_SETTINGS.read_text())
    assert written["telemetry"] == {"enabled": True} and written["run_coordinator"] == operators["run_coordinator"]
    assert written["concurrency"]["runs"]["max_concurrent_runs"] == 8
    assert written["concurrency"]["pools"] == project["concurrency"]["pools"] and written["run_monitoring"] == project["run_monitoring"]
    third = subprocess.run([sys.executable, "-c", "import vcf_pipeline.definitions"], env=env, capture_output=True, text=True, timeout=300)
    assert "restart Dagster" not in third.stderr  # nothing left to merge


def test_the_definitions_load_from_an_installed_wheel(tmp_path):
    """A non-editable install has no pyproject.toml: the package's own dg.toml lets
    `load_from_defs_folder` find the project, and the instance settings travel with it."""
    import tomllib

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dg"]
    packaged = tomllib.loads((REPO / "vcf_pipeline" / "dg.toml").read_text())
    assert packaged["project"] == {k: pyproject["project"][k] for k in ("root_module", "defs_module")}

    import shutil

    source = tmp_path / "source"  # built from a copy: a build leaves build/ and egg-info behind
    shutil.copytree(REPO / "vcf_pipeline", source / "vcf_pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "wheel"), str(source)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = (tmp_path / "wheel").glob("*.whl")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)], check=True, capture_output=True, timeout=300)
    code = ("import vcf_pipeline, vcf_pipeline.definitions as d; from vcf_pipeline.instance.instance_settings import INSTANCE_SETTINGS; "
            "print(vcf_pipeline.__file__, INSTANCE_SETTINGS.exists(), len(d.defs.resolve_asset_graph().get_all_asset_keys()))")
    env = {**os.environ, "PYTHONPATH": str(site), "VCF_PIPELINE_HOME": str(tmp_path / "home")}
    env.pop("DAGSTER_HOME", None)
    loaded = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    path, settings_shipped, assets = loaded.stdout.split()
    assert path.startswith(str(site)) and settings_shipped == "True" and assets == "6"


def test_the_executor_is_chosen_by_configuration(tmp_path):
    code = "import vcf_pipeline.definitions as d; print(d.defs.resolve_job_def('ingest_vcf').executor_def.name)"
    env = {**os.environ, "VCF_PIPELINE_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    chosen = {}
    for value in ("", "multiprocess", "dagster:multiprocess_executor"):
        loaded = subprocess.run([sys.executable, "-c", code], env={**env, "VCF_PIPELINE_EXECUTOR": value}, capture_output=True, text=True, timeout=300)
        assert loaded.returncode == 0, loaded.stderr
        chosen[value] = loaded.stdout.split()[-1]
    assert chosen == {"": "in_process", "multiprocess": "multiprocess", "dagster:multiprocess_executor": "multiprocess"}
    refused = subprocess.run([sys.executable, "-c", code], env={**env, "VCF_PIPELINE_EXECUTOR": "dagster:asset"}, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "execution.executor 'dagster:asset'" in refused.stderr
