"""The instance's run launcher (see dagster.yaml): Dagster's default launcher, plus a health check.

The default launcher cannot tell run monitoring that a run's process died (killed, out of memory), so
such a run would stay STARTED and keep its `kuzu`/`lancedb` pool slot forever. This one finds the
run's process: a launched run worker's pid from the run's own "Started process for run" event, a
in-process run's (`vcf-pipeline ingest`, `backup`) from the tags it was started with
(`in_process_run_tags`), and checks it; a run found dead is marked failed by run monitoring, which
then frees its slots (and `pools.fail_dead_runs` does the same without a daemon).

A run on another host cannot be checked by its process. Every run worker therefore beats: the
`settings` resource, set up once per run and process, tags the run with its host and the time every
30 s until the run has ended (`RunHeartbeat`). A run whose worker is elsewhere and whose last beat is
older than three minutes is reported failed: its host is down or cut off, and its pool slots are freed.

The launcher's health-check types and the gRPC tag have no public export in Dagster 1.13: they
come through `dagster_internals`.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable

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
HEARTBEAT_TAG = "vcf_pipeline/heartbeat"  # "<host> <unix time>" of the run worker's last beat
HEARTBEAT_EVERY_S, HEARTBEAT_TIMEOUT_S = 30.0, 180.0


class RunHeartbeat:
    """Tags a run with this host and the time, now and every `every_s` seconds, while `running()`
    says the run goes on (it stops by itself, so the resource needs no teardown: a resource with one
    would have to be opened as a context manager wherever it is used, sensors included)."""

    def __init__(self, tag_run: Callable[[dict[str, str]], None], running: Callable[[], bool], every_s: float = HEARTBEAT_EVERY_S):
        self._tag_run, self._running, self._every_s = tag_run, running, every_s
        self._thread = threading.Thread(target=self._beat, name="vcf-pipeline-run-heartbeat", daemon=True)

    def start(self) -> "RunHeartbeat":
        self._beat_once()
        self._thread.start()
        return self

    def _beat(self) -> None:
        while True:
            time.sleep(self._every_s)
            try:
                if not self._running():
                    return
            except Exception:  # noqa: BLE001 - the storage unreachable for a moment: keep beating
                pass
            self._beat_once()

    def _beat_once(self) -> None:
        try:
            self._tag_run({HEARTBEAT_TAG: _beat_now()})
        except Exception:  # noqa: BLE001 - a storage hiccup (or a run the storage does not hold) must not end the run
            pass


def _beat_now() -> str:
    return f"{socket.gethostname()} {time.time():.0f}"


def silent_elsewhere(run, now: float | None = None) -> str | None:
    """Why a run whose worker beats on another host counts as lost (its last beat is too old), or None."""
    host, _, when = run.tags.get(HEARTBEAT_TAG, "").partition(" ")
    if not host or host == socket.gethostname() or not when:
        return None
    silent = (now or time.time()) - float(when)
    if silent <= HEARTBEAT_TIMEOUT_S:
        return None
    return f"no heartbeat from the run worker on {host} for {silent:.0f} s: its host is down or unreachable"


def in_process_run_tags() -> dict[str, str]:
    """Tags naming this process, for runs it executes in-process: a later command can tell whether
    the run's process is still alive."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname(), SINCE_TAG: f"{time.time():.3f}"}


def worker_gone(instance, run) -> str | None:
    """Why `run`'s process is known to be gone, or None (alive, not started, or not checkable here)."""
    worker = _find_worker(instance, run)
    if worker is None:
        return silent_elsewhere(run)
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
            # Not started yet, or on another host: only its heartbeat tells, and anything but RUNNING
            # makes run monitoring fail the run.
            lost = silent_elsewhere(run)
            if lost is not None:
                return CheckRunHealthResult(WorkerStatus.FAILED, lost)
            return CheckRunHealthResult(WorkerStatus.RUNNING, "run worker on another host, beating")
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
