"""The instance's run launcher (see dagster.yaml): Dagster's default launcher, plus a health check.

The default launcher cannot tell run monitoring that a run's process died (killed, out of memory), so
such a run would stay STARTED and keep its `kuzu`/`lancedb` pool slot forever. This one finds the
run's process: a launched run worker's pid from the run's own "Started process for run" event, a
in-process run's (`vcf-pipeline ingest`, `backup`) from the tags it was started with
(`in_process_run_tags`), and checks it; a run found dead is marked failed by run monitoring, which
then frees its slots (and `pools.fail_dead_runs` does the same without a daemon).

The launcher's health-check types and the gRPC tag have no public export in Dagster 1.13: they
come through `dagster_internals`.
"""

from __future__ import annotations

import json
import os
import socket
import time

from dagster import DagsterEventType, DefaultRunLauncher

from vcf_pipeline.instance.dagster_internals import (
    GRPC_INFO_TAG,
    CheckRunHealthResult,
    WorkerStatus,
)
from vcf_pipeline.lib.system.processes import process_alive

_STARTED_PROCESS = "Started process for run (pid: "
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", socket.gethostname()}
PID_TAG, HOST_TAG, SINCE_TAG = "vcf_pipeline/pid", "vcf_pipeline/host", "vcf_pipeline/process_since"


def in_process_run_tags() -> dict[str, str]:
    """Tags naming this process, for runs it executes in-process: a later command can tell whether
    the run's process is still alive."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname(), SINCE_TAG: f"{time.time():.3f}"}


def worker_gone(instance, run) -> str | None:
    """Why `run`'s process is known to be gone, or None (alive, not started, or not checkable here)."""
    worker = _find_worker(instance, run)
    if worker is None:
        return None
    pid, since = worker
    return None if process_alive(pid, started_by=since) else f"run worker process {pid} is gone (killed or crashed)"


def _find_worker(instance, run) -> tuple[int, float] | None:
    if PID_TAG in run.tags:
        if run.tags.get(HOST_TAG) != socket.gethostname():
            return None
        return int(run.tags[PID_TAG]), float(run.tags.get(SINCE_TAG, "0") or 0)
    grpc_info = json.loads(run.tags.get(GRPC_INFO_TAG, "{}") or "{}")
    if grpc_info.get("host") and grpc_info["host"] not in _LOCAL_HOSTS:
        return None
    for record in instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT):
        if record.message.startswith(_STARTED_PROCESS):
            return int(record.message[len(_STARTED_PROCESS) :].split(")")[0]), record.timestamp
    return None


class LocalRunLauncher(DefaultRunLauncher):
    """Launches runs like DefaultRunLauncher and checks the health of those running on this host."""

    def __init__(self, inst_data=None):
        super().__init__(inst_data=inst_data)
        self._workers: dict[str, tuple[int, float]] = {}

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        worker = self._worker_of(run)
        if worker is None:
            # Not started yet, or on another host: nothing to check, and anything but RUNNING would
            # make run monitoring fail the run.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "run worker not checkable from here")
        pid, reported_at = worker
        if process_alive(pid, started_by=reported_at):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker pid {pid} is alive", run_worker_id=str(pid))
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker process {pid} is gone (killed or crashed)", run_worker_id=str(pid))

    def _worker_of(self, run) -> tuple[int, float] | None:
        if run.run_id not in self._workers:
            worker = _find_worker(self._instance, run)
            if worker is None:
                return None
            self._workers[run.run_id] = worker
        return self._workers[run.run_id]
