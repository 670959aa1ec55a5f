"""The `lancedb` and `kuzu` pools as the command line sees them: free what dead runs hold, then wait
(bounded, saying who holds them, interruptible) for live holders.

A run whose process was killed keeps its pool slots: Dagster frees them only once run monitoring
(in the daemon) has failed the run, and an in-process `vcf-pipeline ingest` has no daemon. So every
command that writes first fails the runs whose process is gone and frees their slots itself."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg

from vcf_pipeline.instance.run_launcher import in_process_run_tags, worker_gone

POOLS = ("lancedb", "kuzu")
REPORT_EVERY_S = 10.0
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


class _BoundedWait:
    """Waiting for busy pools: says who holds them every REPORT_EVERY_S seconds, PoolBusy after `wait_s`."""

    def __init__(self, wait_s: float, report: Callable[[str], None]):
        self.wait_s, self.report = wait_s, report
        self.deadline, self.next_report = time.monotonic() + wait_s, 0.0

    def pause(self, instance: dg.DagsterInstance, pools, seconds: float) -> None:
        busy = pool_holders(instance, pools)
        held = "; ".join(f"pool {p} held by run {', '.join(r[:8] for r in runs)}" for p, runs in busy.items()) or "pools busy"
        if time.monotonic() > self.deadline:
            raise PoolBusy(f"a pipeline run is writing ({held}); waited {self.wait_s:.0f}s, try again when it finishes")
        if time.monotonic() >= self.next_report:
            self.report(f"waiting: {held}")
            self.next_report = time.monotonic() + REPORT_EVERY_S
        time.sleep(seconds)  # Ctrl-C (or TERM, which the command turns into it) ends the wait here


def wait_for_pools(
    instance: dg.DagsterInstance, wait_s: float, pools=POOLS, report: Callable[[str], None] = lambda line: None
) -> None:
    """Free what dead runs hold, then wait until no run holds `pools`, reporting who does;
    PoolBusy after `wait_s`."""
    waiting = _BoundedWait(wait_s, report)
    while True:
        fail_dead_runs(instance)
        if not pool_holders(instance, pools):
            return
        waiting.pause(instance, pools, 1.0)


@contextmanager
def holding_pools(
    instance: dg.DagsterInstance, name: str, wait_s: float, pools=POOLS, report: Callable[[str], None] = lambda line: None
) -> Iterator[dg.DagsterRun]:
    """Hold one slot of every pool in `pools` for a write made outside a pipeline run (curation):
    no pipeline step writes those stores meanwhile. The holder is a run of its own, named `name`
    and tagged with this process, so the UI shows who holds the pools and, if this process is
    killed, `fail_dead_runs` (or run monitoring) frees them. Slots are claimed all together or not
    at all (holding one while waiting for the other could deadlock with a run doing the reverse);
    PoolBusy after `wait_s`."""
    run = instance.add_run(
        dg.DagsterRun(job_name=name, run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED, tags={**in_process_run_tags(), "vcf_pipeline/curation": name})
    )
    storage = instance.event_log_storage
    for pool in pools:
        storage.initialize_concurrency_limit_to_default(pool)
    waiting = _BoundedWait(wait_s, report)
    try:
        while True:
            fail_dead_runs(instance)
            claimed = [storage.claim_concurrency_slot(pool, run.run_id, f"{name}:{pool}").is_claimed for pool in pools]
            if all(claimed):
                break
            storage.free_concurrency_slots_for_run(run.run_id)  # all or nothing
            waiting.pause(instance, pools, 0.5)
        yield run
    except BaseException as exc:
        storage.free_concurrency_slots_for_run(run.run_id)
        instance.report_run_failed(run, message=f"{name} failed: {type(exc).__name__}")
        raise
    storage.free_concurrency_slots_for_run(run.run_id)
    instance.report_dagster_event(
        dg.DagsterEvent(event_type_value=dg.DagsterEventType.RUN_SUCCESS.value, job_name=name, message=f"{name} done"), run_id=run.run_id
    )



class PoolsUnlimited(RuntimeError):
    """The instance does not limit a store's pool to one writer."""


def require_single_writer(instance: dg.DagsterInstance, pool: str) -> None:
    """Refuse to write a store when this instance lets more than one step hold its pool at a time
    (Dagster started on a DAGSTER_HOME without the project's dagster.yaml): two writers could then
    change Kuzu or LanceDB at once. Raises PoolsUnlimited naming the missing setting."""
    limits = {limit.name: limit.limit for limit in instance.event_log_storage.get_pool_limits()}
    limit = limits.get(pool, instance.get_concurrency_config().pool_config.default_pool_limit)
    if limit != 1:
        raise PoolsUnlimited(
            f"pool {pool!r} is not limited to one writer on this instance (limit: {limit}); nothing written. "
            f"Run Dagster with the instance settings vcf_pipeline ships (vcf_pipeline/instance/dagster.yaml) in DAGSTER_HOME "
            f"({instance.root_directory}): they set `concurrency: pools: default_limit: 1`. `vcf-pipeline` and `make dev` install them, "
            "and so does loading the definitions on a DAGSTER_HOME that has no dagster.yaml (restart Dagster after); "
            "or set that limit in your own dagster.yaml."
        )
