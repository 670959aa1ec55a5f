"""Two machines on one host, sharing only Postgres and S3 (and the graph's volume), and a lost worker.

    .venv/bin/python docs/two_machines.py [--out docs/two_machines.json]

Needs root (unshare) and Postgres and SeaweedFS installed, as the tests do. Machine A runs the
daemon and owns the graph. Machine B is a separate mount and UTS namespace with its own hostname: its
home is its own, and A's Kuzu folder is bind-mounted into it as a volume would be. Then:

1. A file put into the bucket is ingested by A's daemon; A's graph folder becomes the deployment's graph.
2. B ingests a local file (`vcf-pipeline ingest`, a run on the shared instance) and is killed with
   SIGKILL while its run holds the `kuzu` slot, so no process is left to report the run.
3. Run monitoring on A sees the run's worker on machine-b silent past the heartbeat timeout, fails
   the run and frees the slot; the seconds it took are printed.
4. Another file through the bucket gets the slot and is ingested; B runs its file again, to the end.
5. One graph: the registry names A's folder, B's home has no graph of its own; and the graph agrees
   with LanceDB for every file (the pipeline's own asset checks, run here over every partition).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dagster as dg  # noqa: E402

from vcf_pipeline.instance.home import prepare_home  # noqa: E402
from vcf_pipeline.instance.run_launcher import HEARTBEAT_TIMEOUT_S, HOST_TAG  # noqa: E402
from vcf_pipeline.lib.backup.local_s3 import SeaweedServer  # noqa: E402
from vcf_pipeline.lib.backup.s3_client import s3_client  # noqa: E402
from vcf_pipeline.lib.settings import Settings  # noqa: E402
from vcf_pipeline.lib.stores.consistency import (  # noqa: E402
    graph_holds_partition,
    lancedb_holds_partition,
)
from vcf_pipeline.lib.stores.graph_owner import MARKER, REGISTRY_FILE  # noqa: E402
from vcf_pipeline.lib.system.process_groups import start_group, stop_groups  # noqa: E402
from vcf_pipeline_tests.deployment import BIN, BUCKET, Deployment  # noqa: E402
from vcf_pipeline_tests.files import write_raw_calls  # noqa: E402
from vcf_pipeline_tests.postgres import running_postgres  # noqa: E402

SHARED_VCF = REPO.parent / "shared" / "data" / "vcf"
FIRST, SECOND = REPO / "data" / "samples" / "family_trio.vcf", SHARED_VCF / "pysam__cbcf_data__gnomad.vcf"


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def on_machine_b(a: Path, b: Path, command: str) -> subprocess.Popen:
    """`command` in machine B's namespaces: its hostname, A's graph folder mounted as B's."""
    script = f"hostname machine-b && mount --bind {a / 'kuzu'} {b / 'kuzu'} && exec {command}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("VCF_PIPELINE_")}, "HF_HUB_OFFLINE": "1"}
    return start_group(["unshare", "--mount", "--uts", "--propagation", "private", "sh", "-c", script], env=env,
                       stdout=open(b / "machine-b.log", "ab"), stderr=subprocess.STDOUT)


def ingested(deployment: Deployment, home: Path, partition: str):
    with deployment.instance(home) as instance:
        runs = [r for r in instance.get_runs() if r.job_name == "ingest_vcf" and r.tags.get("dagster/partition") == partition]
    return runs[0] if runs and runs[0].is_finished else None


def run(root: Path) -> dict:
    figures: dict = {"heartbeat_timeout_s": HEARTBEAT_TIMEOUT_S}
    s3 = SeaweedServer(root / "s3", "lab" + secrets.token_hex(4), secrets.token_hex(16), s3_port=0).start()
    try:
        with running_postgres() as postgres:
            postgres.execute("postgres", "CREATE DATABASE dagster")
            deployment = Deployment(root, postgres, s3)
            a, b = deployment.machine("machine-a"), deployment.machine("machine-b")
            client = s3_client(Settings.load(a))
            client.create_bucket(Bucket=BUCKET)
            prepare_home(Settings.load(b))
            deployment.start_daemon(a)
            try:
                return _scenario(deployment, a, b, client, figures)
            finally:
                stop_groups([deployment.daemon], grace_s=20)
    finally:
        s3.stop()


def _scenario(deployment: Deployment, a: Path, b: Path, client, figures: dict) -> dict:
    say("1. a file into the bucket; machine A's daemon ingests it")
    client.put_object(Bucket=BUCKET, Key=f"drop/{FIRST.name}", Body=FIRST.read_bytes())
    first = deployment.wait_for(lambda: ingested(deployment, a, f"drop/{FIRST.name}"), "the first ingest", a)
    assert first.status == dg.DagsterRunStatus.SUCCESS, first.status
    owner = Settings.load(a).registry.read_json(Settings.load(a).registry.path(REGISTRY_FILE))
    say(f"   the deployment's graph: {owner['path']} on {owner['host']}")

    say("2. machine B ingests a local file and is killed while its run holds the kuzu slot")
    (b / "local").mkdir()
    big = write_raw_calls(b / "local" / "panel_b.vcf", 80_000, seed=11, samples=tuple(f"S{i}" for i in range(10)))
    worker = on_machine_b(a, b, f"{BIN / 'vcf-pipeline'} ingest --home {b} {big}")
    with deployment.instance(a) as instance:

        def holder():
            slots = instance.event_log_storage.get_concurrency_info("kuzu").claimed_slots
            run = instance.get_run_by_id(slots[0].run_id) if slots else None
            return run if run is not None and run.tags.get(HOST_TAG) == "machine-b" else None

        held = deployment.wait_for(holder, "machine B's run to hold the kuzu slot", a, wait_s=600)
        os.killpg(worker.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        say(f"   killed machine B (run {held.run_id[:8]}, host tag {held.tags[HOST_TAG]})")

        say(f"3. run monitoring on machine A fails the silent run (heartbeat timeout {HEARTBEAT_TIMEOUT_S:.0f} s)")

        def freed():
            run = instance.get_run_by_id(held.run_id)
            slots = instance.event_log_storage.get_concurrency_info("kuzu").claimed_slots
            return run if run.is_finished and not any(s.run_id == held.run_id for s in slots) else None

        failed = deployment.wait_for(freed, "run monitoring to free the kuzu slot", a, wait_s=HEARTBEAT_TIMEOUT_S + 120)
        figures["slot_freed_after_kill_s"] = round(time.monotonic() - killed_at, 1)
        reasons = [e.message for e in instance.all_logs(held.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)]
        figures["killed_run"] = {"status": failed.status.value, "failure": reasons[-1] if reasons else ""}
        say(f"   {failed.status.value} after {figures['slot_freed_after_kill_s']} s: {figures['killed_run']['failure']}")

    say("4. another file through the bucket gets the slot; machine B runs its file again")
    client.put_object(Bucket=BUCKET, Key=f"drop/{SECOND.name}", Body=SECOND.read_bytes())
    second = deployment.wait_for(lambda: ingested(deployment, a, f"drop/{SECOND.name}"), "the second ingest", a)
    assert second.status == dg.DagsterRunStatus.SUCCESS, second.status
    again = on_machine_b(a, b, f"{BIN / 'vcf-pipeline'} ingest --home {b} {big}")
    figures["machine_b_rerun_exit_code"] = again.wait(timeout=900)
    assert figures["machine_b_rerun_exit_code"] == 0, (b / "machine-b.log").read_text()[-3000:]

    say("5. one graph, consistent with LanceDB")
    settings = Settings.load(a)
    figures["graph_folders"] = sorted(str(p.parent) for p in deployment.root.glob(f"*/kuzu/{MARKER}"))
    figures["machine_b_own_graph"] = any((b / "kuzu").iterdir())  # without the mount: nothing of its own
    graph, store = settings.graph_store(), settings.variant_store()
    with deployment.instance(a) as instance:
        keys = instance.get_dynamic_partitions("vcf_files")
    figures["files"] = {}
    for key in keys:
        files = settings.partition_files(key)
        checks = (lancedb_holds_partition(files, store), graph_holds_partition(files, graph))
        figures["files"][key] = {"consistent": all(c.passed for c in checks), "lancedb": checks[0].description, "kuzu": checks[1].description}
    figures["one_graph"] = figures["graph_folders"] == [str(a / "kuzu")] and not figures["machine_b_own_graph"]
    figures["consistent"] = all(f["consistent"] for f in figures["files"].values())
    for key, found in figures["files"].items():
        say(f"   {key}: {found['lancedb']}; {found['kuzu']}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "two_machines.json")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="two-machines-"))
    figures = run(root)
    args.out.write_text(json.dumps(figures, indent=1) + "\n")
    ok = figures["one_graph"] and figures["consistent"] and figures["killed_run"]["status"] == "FAILURE"
    say(f"{'passed' if ok else 'FAILED'}; figures in {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
