"""The instance's run launcher (see dagster.yaml): Dagster's default launcher, plus a health check.

The default launcher cannot tell run monitoring that a run's process died (killed, out of memory), so
such a run would stay STARTED and keep its `kuzu`/`lancedb` pool slot forever. This one reads the run
worker's pid from the run's own "Started process for run" event and checks that process; a run found
dead is marked failed by run monitoring, which then frees its slots.
"""

from __future__ import annotations

import json
import socket

from dagster import DagsterEventType, DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG

from vcf_pipeline.lib.processes import process_alive

_STARTED_PROCESS = "Started process for run (pid: "
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", socket.gethostname()}


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
            # Not started yet, run in another process (`vcf-pipeline ingest`) or on another host:
            # nothing to check, and anything but RUNNING would make run monitoring fail the run.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "run worker not checkable from here")
        pid, reported_at = worker
        if process_alive(pid, started_by=reported_at):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker pid {pid} is alive", run_worker_id=str(pid))
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker process {pid} is gone (killed or crashed)", run_worker_id=str(pid))

    def _worker_of(self, run) -> tuple[int, float] | None:
        if run.run_id in self._workers:
            return self._workers[run.run_id]
        grpc_info = json.loads(run.tags.get(GRPC_INFO_TAG, "{}") or "{}")
        if grpc_info.get("host") and grpc_info["host"] not in _LOCAL_HOSTS:
            return None
        for record in self._instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT):
            if record.message.startswith(_STARTED_PROCESS):
                pid = int(record.message[len(_STARTED_PROCESS) :].split(")")[0])
                self._workers[run.run_id] = (pid, record.timestamp)
                return self._workers[run.run_id]
        return None
