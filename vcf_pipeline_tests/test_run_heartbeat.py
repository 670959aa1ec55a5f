"""Runs on other hosts: every run worker beats (its host and the time, as a run tag); a run whose
worker is elsewhere and silent for longer than the timeout is failed by the launcher's health check
(run monitoring) and by the commands' own sweep, and its pool slots are freed."""

from __future__ import annotations

import socket
import time
import uuid

import dagster as dg

from vcf_pipeline.instance.home import prepare_home
from vcf_pipeline.instance.in_process_runs import ingest_paths
from vcf_pipeline.instance.pools import fail_dead_runs, pool_holders
from vcf_pipeline.instance.run_launcher import (
    HEARTBEAT_TAG,
    HEARTBEAT_TIMEOUT_S,
    HOST_TAG,
    PID_TAG,
    SINCE_TAG,
)
from vcf_pipeline_tests.conftest import SAMPLES


def _run_elsewhere(instance, beat_age_s: float) -> dg.DagsterRun:
    """A STARTED run whose worker is on another host, last heard of `beat_age_s` ago, holding `kuzu`."""
    host = "lab-worker-2"
    run = instance.add_run(dg.DagsterRun(
        job_name="ingest_vcf", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED,
        tags={PID_TAG: "4242", HOST_TAG: host, SINCE_TAG: "0", HEARTBEAT_TAG: f"{host} {time.time() - beat_age_s:.0f}"},
    ))
    instance.event_log_storage.initialize_concurrency_limit_to_default("kuzu")
    assert instance.event_log_storage.claim_concurrency_slot("kuzu", run.run_id, "kuzu_graph").is_claimed
    return run


def test_a_silent_run_on_another_host_is_failed_and_its_slot_freed(tmp_path):
    prepare_home(tmp_path)
    with dg.DagsterInstance.get() as instance:
        alive = _run_elsewhere(instance, beat_age_s=10)
        assert instance.run_launcher.check_run_worker_health(alive).status.name == "RUNNING"
        assert fail_dead_runs(instance) == [] and pool_holders(instance) == {"kuzu": [alive.run_id]}
        instance.report_run_failed(alive, message="test over")
        instance.event_log_storage.free_concurrency_slots_for_run(alive.run_id)

        lost = _run_elsewhere(instance, beat_age_s=HEARTBEAT_TIMEOUT_S + 60)
        health = instance.run_launcher.check_run_worker_health(lost)
        assert health.status.name == "FAILED" and "lab-worker-2" in health.msg and "down or unreachable" in health.msg
        assert fail_dead_runs(instance) == [lost.run_id]
        assert pool_holders(instance) == {} and instance.get_run_by_id(lost.run_id).status == dg.DagsterRunStatus.FAILURE


def test_every_run_worker_beats(tmp_path):
    [summary] = ingest_paths(tmp_path, [SAMPLES / "family_trio.vcf"])
    assert summary.ok, summary.error
    with dg.DagsterInstance.get() as instance:
        host, _, when = instance.get_run_by_id(summary.run_id).tags[HEARTBEAT_TAG].partition(" ")
    assert host == socket.gethostname() and time.time() - float(when) < 600
