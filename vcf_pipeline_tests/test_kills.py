"""An in-process `vcf-pipeline ingest` SIGKILLed at each step boundary: the next ingest repairs the home
by itself (no claimed pool slot, no stuck run), and both stores hold exactly what pysam reads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from vcf_pipeline.cli.main import main
from vcf_pipeline.instance.home import prepare_home
from vcf_pipeline.lib.settings import Settings
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import VARIANTS
from vcf_pipeline.lib.system.process_groups import start_group
from vcf_pipeline_tests.files import write_raw_calls
from vcf_pipeline_tests.stores import StoredView

CLI = Path(sys.executable).parent / "vcf-pipeline"
RECORDS = 40_000


def _ingest(home: Path, vcf: Path) -> subprocess.Popen:
    return start_group(
        [str(CLI), "ingest", "--home", str(home), str(vcf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def _started_steps(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    return {e.step_key for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)}


def _variant_rows(home: Path) -> int:
    store = VariantStore(home / "lancedb")
    return store.count(VARIANTS) if VARIANTS in store.table_names() else 0


def _kill_when(process: subprocess.Popen, home: Path, step: str, after_commit: bool, timeout_s: float = 120.0) -> str:
    """SIGKILL the ingest's process group once `step` has started (and, with `after_commit`, once
    the variants table grew: the first LanceDB commit is in). Returns the killed run's id."""
    rows_before = _variant_rows(home)
    deadline = time.monotonic() + timeout_s
    with dg.DagsterInstance.get() as instance:
        known = {r.run_id for r in instance.get_runs()}
        run_id = None
        while time.monotonic() < deadline:
            assert process.poll() is None, f"the ingest ended before the kill point: {process.stdout.read().decode()}"
            if run_id is None:
                new = [r.run_id for r in instance.get_runs(limit=5) if r.run_id not in known]
                run_id = new[0] if new else None
            if run_id and step in _started_steps(instance, run_id) and (not after_commit or _variant_rows(home) > rows_before):
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return run_id
            time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError(f"never reached {step}")


KILL_POINTS = [
    ("parsed_variants", False),
    ("variant_embeddings", False),
    ("kuzu_graph", False),
    ("lancedb_variants", False),
    ("lancedb_variants", True),  # between the variants upsert and the ownership/calls commit
]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("kills")
    prepare_home(home)  # this process reads the same instance as the commands it kills
    return home


@pytest.mark.parametrize("step,after_commit", KILL_POINTS, ids=[f"{s}{'-after-commit' if c else ''}" for s, c in KILL_POINTS])
def test_a_killed_ingest_is_repaired_by_the_next_one(home, tmp_path, step, after_commit, capsys):
    vcf = write_raw_calls(tmp_path / f"killed_at_{step}.vcf", RECORDS, seed=len(step) + after_commit, samples=("mother", "child"))
    killed = _kill_when(_ingest(home, vcf), home, step, after_commit)

    if after_commit:  # queries answer, and say that a file's write did not finish
        assert main(["status", "--home", str(home)]) == 0
        assert "unfinished: its process" in capsys.readouterr().err

    started = time.monotonic()
    again = subprocess.run([str(CLI), "ingest", "--home", str(home), str(vcf)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
    assert time.monotonic() - started < 60

    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE
        for pool in ("lancedb", "kuzu"):
            assert not instance.event_log_storage.get_concurrency_info(pool).claimed_slots, pool
        assert not instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    view = StoredView(home)
    view.assert_consistent()
    sources = Settings.load(home).source_folders()
    for path in tmp_path.parent.glob("*/killed_at_*.vcf"):
        view.assert_holds_exactly(sources.key_for(path), path)
    assert not list((home / "writes").glob("*.json"))  # the next write of the file cleared its journal entry
