"""The `lancedb` and `kuzu` pools as the command line sees them: free what dead runs hold, then wait
(bounded, saying who holds them, interruptible) for live holders.

A run whose process was killed keeps its pool slots: Dagster frees them only once run monitoring
(in the daemon) has failed the run, and a headless `vcf-pipeline ingest` has no daemon. So every
command that writes first fails the runs whose process is gone and frees their slots itself."""

from __future__ import annotations

import time
from collections.abc import Callable

import dagster as dg

from vcf_pipeline.run_launcher import worker_gone

POOLS = ("lancedb", "kuzu")
_IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


class PoolBusy(RuntimeError):
    """A live run kept a pool past the wait."""


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark runs whose process is gone as failed and free their pool slots (and free the slots of
    runs that ended without freeing them). Returns the run ids failed."""
    failed = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=_IN_PROGRESS)):
        run = record.dagster_run
        reason = worker_gone(instance, run)
        if reason:
            instance.report_run_failed(run, message=f"{reason}; marked failed by vcf-pipeline, its pool slots freed")
            failed.append(run.run_id)
    storage = instance.event_log_storage
    holders = storage.get_concurrency_run_ids()
    if holders:
        ended = {r.dagster_run.run_id for r in instance.get_run_records(dg.RunsFilter(run_ids=list(holders))) if r.dagster_run.is_finished}
        for run_id in ended | set(failed):
            storage.free_concurrency_slots_for_run(run_id)
    return failed


def pool_holders(instance: dg.DagsterInstance, pools=POOLS) -> dict[str, list[str]]:
    """pool -> ids of the runs holding its slots."""
    infos = {pool: instance.event_log_storage.get_concurrency_info(pool) for pool in pools}
    return {pool: sorted({slot.run_id for slot in info.claimed_slots}) for pool, info in infos.items() if info.claimed_slots}


def wait_for_pools(
    instance: dg.DagsterInstance, wait_s: float, pools=POOLS, report: Callable[[str], None] = lambda line: None, every_s: float = 10.0
) -> None:
    """Free what dead runs hold, then wait until no run holds `pools`, reporting who does every
    `every_s` seconds; PoolBusy after `wait_s`. Ctrl-C ends the wait like any sleep."""
    deadline, next_report = time.monotonic() + wait_s, 0.0
    while True:
        fail_dead_runs(instance)
        busy = pool_holders(instance, pools)
        if not busy:
            return
        held = "; ".join(f"pool {p} held by run {', '.join(r[:8] for r in runs)}" for p, runs in busy.items())
        if time.monotonic() > deadline:
            raise PoolBusy(f"a pipeline run is writing ({held}); waited {wait_s:.0f}s, try again when it finishes")
        if time.monotonic() >= next_report:
            report(f"waiting: {held}")
            next_report = time.monotonic() + every_s
        time.sleep(1.0)
