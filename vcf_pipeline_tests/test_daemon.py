"""End to end with the real Dagster daemon on a temporary home: files dropped into the watched
folder are ingested with no click, changed files are re-run, deleted ones retracted, a killed run
does not block the Kuzu pool, and `vcf-pipeline backfill` runs through the daemon.

The tests are steps of one scenario, in file order, sharing one daemon (started once: it takes a
while to load the code location, and each step builds on the stores the previous ones left).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from vcf_pipeline.instance.dagster_internals import (
    BACKFILL_ID_TAG,
    BulkActionStatus,
    TickStatus,
)
from vcf_pipeline.instance.home import prepare_home
from vcf_pipeline.instance.run_files import files_of_run
from vcf_pipeline.lib.stores.write_journal import WriteJournal
from vcf_pipeline.lib.system.process_groups import start_group, stop_groups
from vcf_pipeline_tests.conftest import REPO, SHARED_VCF
from vcf_pipeline_tests.files import write_raw_calls
from vcf_pipeline_tests.stores import StoredView

BIN = Path(sys.executable).parent
FIRST_DROP = [
    "bcftools__test__many-alts.vcf",
    "bio2zarr__vcf__1kg_2020_chr20_annotations.bcf",
    "ensembl-vep__clinvar-testset__input.vcf.gz",
    "gatk__SVAnnotate__integration.vcf.gz",
    "gatk__SelectVariants__gvcfExample.g.vcf",
    "htsjdk__vcf43__all43Features.utf8.vcf",
    "htslib__test__vcf44_1.vcf",
    "pysam__cbcf_data__example_vcf42_only_header.vcf",
]
CHANGED, CHANGED_TO = "htslib__test__vcf44_1.vcf", "vcf2maf__tests__test_delly.vcf"
DELETED = "bcftools__test__many-alts.vcf"
WAIT_S = 240


class Daemon:
    """`dagster-daemon run` on a home, started and stopped by its pid (its process group)."""

    def __init__(self, home: Path):
        self.home, self.process = home, None
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("VCF_PIPELINE_")},
            "VCF_PIPELINE_HOME": str(home),
            "DAGSTER_HOME": str(home / "dagster_home"),
            "HF_HUB_OFFLINE": "1",
            "VCF_PIPELINE_SENSOR_INTERVAL": "1",
            "VCF_PIPELINE_SETTLE_SECONDS": "1",
        }

    def start(self) -> None:
        log = open(self.home / "daemon.log", "ab")
        self.process = start_group(
            [str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")], cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        if self.process is None:
            return
        stop_groups([self.process], grace_s=30)
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join((self.home / "daemon.log").read_text(errors="replace").splitlines()[-lines:])


class Scenario:
    def __init__(self, home: Path, daemon: Daemon):
        self.home, self.daemon = home, daemon
        self.incoming = home / "incoming"
        self.instance = dg.DagsterInstance.from_config(str(home / "dagster_home"))

    def drop(self, name: str, source: Path | None = None) -> Path:
        target = self.incoming / name
        tmp = self.incoming / f".{name}.copying"  # hidden while it is written, as rsync does
        shutil.copyfile(source or SHARED_VCF / name, tmp)
        os.replace(tmp, target)
        return target

    def runs(self, job: str | None = None) -> list[dg.DagsterRun]:
        runs = self.instance.get_runs()
        return [r for r in runs if job is None or r.job_name == job]

    def wait_for(self, predicate, what: str, timeout: float = WAIT_S, poll_s: float = 1.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(poll_s)
        pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n--- daemon log ---\n{self.daemon.log_tail()}")

    def wait_for_runs(self, job: str, count: int, what: str) -> list[dg.DagsterRun]:
        def finished():
            runs = self.runs(job)
            done = [r for r in runs if r.is_finished]
            return done if len(runs) >= count and len(done) == len(runs) else None

        return self.wait_for(finished, what)

    def wait_for_files(self, keys: set[str], what: str) -> list[dg.DagsterRun]:
        """The finished ingest runs, once every file of `keys` is in one (a file alone or in a group)."""
        def finished():
            runs = [r for r in self.runs("ingest_vcf") if r.is_finished]
            return runs if keys <= self.files(runs) else None

        return self.wait_for(finished, what)

    def files(self, runs) -> set[str]:
        return {key for run in runs for key in files_of_run(self.instance, run)}

    def failures(self, runs) -> list[str]:
        return [f"{files_of_run(self.instance, r)}: {r.status.value}" for r in runs if r.status != dg.DagsterRunStatus.SUCCESS]

    def view(self) -> StoredView:
        return StoredView(self.home)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    home = tmp_path_factory.mktemp("daemon_home")
    prepare_home(home)
    daemon = Daemon(home)
    daemon.start()
    try:
        yield Scenario(home, daemon)
    finally:
        daemon.stop()


def test_eight_files_dropped_at_once_are_all_ingested_without_lock_or_conflict_errors(scenario):
    for name in FIRST_DROP:
        scenario.drop(name)
    expected = {f"incoming/{n}" for n in FIRST_DROP}
    runs = scenario.wait_for_files(expected, "the runs of the 8 files")
    assert not scenario.failures(runs)
    assert scenario.files(runs) == expected
    assert len(runs) < len(FIRST_DROP)  # small files dropped together share runs
    for run in runs:
        for event in scenario.instance.all_logs(run.run_id):
            text = (event.message or "").lower()
            assert "could not set lock" not in text and "commit conflict" not in text, event.message
    view = scenario.view()
    view.assert_consistent()
    for name in FIRST_DROP:
        view.assert_holds_exactly(f"incoming/{name}", SHARED_VCF / name)


def test_a_changed_file_has_its_rows_replaced(scenario):
    before = scenario.view()
    old_only = before.partition_loci(f"incoming/{CHANGED}") - {
        before.loci[v] for pk, v in before.owned if pk != f"incoming/{CHANGED}"
    }
    assert old_only, "the scenario needs variants only the changed file holds"
    scenario.drop(CHANGED, SHARED_VCF / CHANGED_TO)
    [run] = scenario.wait_for(
        lambda: [r for r in scenario.runs("ingest_vcf") if r.tags.get("vcf_pipeline/change") == "changed" and r.is_finished],
        "the changed file's run",
    )
    assert run.status == dg.DagsterRunStatus.SUCCESS
    view = scenario.view()
    view.assert_consistent()
    view.assert_holds_exactly(f"incoming/{CHANGED}", SHARED_VCF / CHANGED_TO)
    assert not old_only & set(view.loci.values()), "variants only the old content held must be gone"


def test_a_deleted_file_is_retracted_from_both_stores(scenario):
    key = f"incoming/{DELETED}"
    before = scenario.view()
    only_here = {v for pk, v in before.owned if pk == key} - {v for pk, v in before.owned if pk != key}
    (scenario.incoming / DELETED).unlink()
    [run] = scenario.wait_for_runs("retract_vcf_files", 1, "the retraction run")
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert key not in scenario.instance.get_dynamic_partitions("vcf_files")
    view = scenario.view()
    view.assert_consistent()
    view.assert_absent(key)
    assert only_here and not only_here & set(view.variant_ids)


def test_an_unchanged_folder_requests_nothing_even_across_a_daemon_restart(scenario):
    runs_before = len(scenario.runs())
    scenario.daemon.stop()
    scenario.daemon.start()
    state = scenario.wait_for(
        lambda: next((s for s in scenario.instance.all_instigator_state() if s.name == "vcf_folder_sensor"), None),
        "the sensor's state",
    )
    started = time.time()

    def skipped_ticks():
        ticks = scenario.instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=20)
        return [t for t in ticks if t.timestamp > started and t.status == TickStatus.SKIPPED]

    scenario.wait_for(lambda: len(skipped_ticks()) >= 3, "three ticks after the restart")
    assert len(scenario.runs()) == runs_before


def test_a_run_killed_while_holding_the_kuzu_pool_does_not_block_the_next_one(scenario, tmp_path):
    # Raw calls (a dozen distinct texts): embedding is quick, and the graph load, which now follows
    # the LanceDB write, is reached within seconds.
    big = write_raw_calls(tmp_path / "large_panel.vcf", 80_000, seed=11, samples=tuple(f"S{i}" for i in range(10)))
    scenario.drop("large_panel.vcf", big)

    def holder():
        info = scenario.instance.event_log_storage.get_concurrency_info("kuzu")
        return next((s.run_id for s in info.claimed_slots), None)

    run_id = scenario.wait_for(holder, "a run holding the kuzu pool", poll_s=0.05)  # the load takes ~2 s
    pid = _run_worker_pid(scenario.instance, run_id)
    # Kill the run worker mid-load (its current Kuzu part never commits) and the code server that
    # launched it: the hard case, where no Dagster process is left to report the run (a surviving
    # code server would); only run monitoring, through LocalRunLauncher's health check, can fail it.
    os.kill(_parent_pid(pid), signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)

    scenario.drop("pysam__cbcf_data__gnomad.vcf")
    killed = scenario.wait_for(
        lambda: (r := scenario.instance.get_run_by_id(run_id)).is_finished and r, "run monitoring to fail the killed run", timeout=120
    )
    assert killed.status == dg.DagsterRunStatus.FAILURE
    failure = [e.message for e in scenario.instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)]
    assert any(f"run worker process {pid} is gone" in m for m in failure), failure
    [after] = scenario.wait_for(
        lambda: [r for r in scenario.runs("ingest_vcf") if r.tags.get("dagster/partition") == "incoming/pysam__cbcf_data__gnomad.vcf" and r.is_finished],
        "the next run to finish",
    )
    assert after.status == dg.DagsterRunStatus.SUCCESS, scenario.daemon.log_tail()
    assert not scenario.instance.event_log_storage.get_concurrency_info("kuzu").claimed_slots
    view = scenario.view()
    # The graph load commits in parts (`kuzu.load_part_rows`): the kill may have come before the
    # first or after some. Either way the graph holds no more of the file than LanceDB does, each
    # variant with the file that contains it, and its calls only as LanceDB holds them.
    panel = "incoming/large_panel.vcf"
    assert {e for e in view.graph_contains if e[0] == panel} <= {o for o in view.owned if o[0] == panel}
    assert view.graph_variants == {v for _, v in view.graph_contains}
    assert {c for c in view.graph_carries if c[0] == panel} <= {c for c in view.calls if c[0] == panel}
    assert not list((scenario.home / "kuzu").glob("staging-*")), "the killed load's staging files are cleaned up"
    view.assert_holds_exactly("incoming/pysam__cbcf_data__gnomad.vcf", SHARED_VCF / "pysam__cbcf_data__gnomad.vcf")
    # LanceDB had the file before the kill: the journal says its write is unfinished, so queries warn.
    [unfinished] = WriteJournal(scenario.home / "writes").unfinished()
    assert unfinished.partition_key == "incoming/large_panel.vcf" and unfinished.run_id == run_id

    (scenario.incoming / "large_panel.vcf").unlink()  # retracted: the stores agree again
    scenario.wait_for_runs("retract_vcf_files", 2, "the large file's retraction")
    view = scenario.view()
    view.assert_consistent()
    view.assert_absent("incoming/large_panel.vcf")
    assert not WriteJournal(scenario.home / "writes").pending()


def test_backfill_all_runs_every_partition_through_the_daemon(scenario):
    partitions = set(scenario.instance.get_dynamic_partitions("vcf_files"))
    result = subprocess.run(
        [str(BIN / "vcf-pipeline"), "backfill", "--all", "--home", str(scenario.home), "--wait", "--timeout", str(WAIT_S)],
        env=scenario.daemon.env, capture_output=True, text=True, timeout=WAIT_S + 60,
    )
    assert result.returncode == 0, result.stdout + result.stderr + scenario.daemon.log_tail()
    backfill_id = result.stdout.split()[1].rstrip(":")
    backfill = scenario.instance.get_backfill(backfill_id)
    assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS
    runs = scenario.instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    assert scenario.files(runs) == partitions and len(runs) < len(partitions)  # in groups, under the backfill policy
    assert not scenario.failures(runs)
    # --wait printed each run as it ended.
    ended = sorted(line.split()[1] for line in result.stdout.splitlines() if line.startswith("  SUCCESS "))
    assert ended == sorted(partitions), result.stdout
    view = scenario.view()
    view.assert_consistent()
    view.assert_holds_exactly(f"incoming/{CHANGED}", SHARED_VCF / CHANGED_TO)


def _parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> int:
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        if record.message.startswith("Started process for run (pid: "):
            return int(record.message.split("pid: ")[1].split(")")[0])
    raise AssertionError(f"run {run_id} reported no process")
