"""`backup`, `snapshots`, `restore` (the home's S3 target, from its configuration) and `s3-server`
(the local SeaweedFS that `make dev` and the tests run)."""

from __future__ import annotations

from vcf_pipeline.cli.options import Refused, add_command, say, settings_of
from vcf_pipeline.cli.output import emit
from vcf_pipeline.lib.units import human_bytes


def cmd_backup(args) -> int:
    from vcf_pipeline.instance.in_process_runs import back_up

    settings = settings_of(args)
    settings.snapshot_bucket()  # settings checked (a bucket, a valid name, the credentials file) before Dagster starts
    if args.submit:
        return _submit_backup(settings)
    summary = back_up(settings.home)
    if not summary.ok:
        say(f"backup FAILED: {summary.error}")
        return 1
    print(f"snapshot {summary.snapshot_id}")
    for store, m in summary.stores.items():
        print(f"  {store:<8} uploaded {human_bytes(m['bytes_uploaded'])} ({m['files_uploaded']} files), reused {human_bytes(m['bytes_reused'])}")
    return 0


def _submit_backup(settings) -> int:
    """`backup --submit`: queue the snapshot on the instance for its daemon, instead of running it here."""
    import dagster as dg

    from vcf_pipeline.instance.backfills import daemon_running, launch_backup_backfill
    from vcf_pipeline.instance.home import prepare_home

    prepare_home(settings)
    with dg.DagsterInstance.get() as instance:
        backfill_id = launch_backup_backfill(instance, "vcf-pipeline backup --submit")
        print(f"backup queued as backfill {backfill_id}; follow it on the UI's backfills page")
        if not daemon_running(instance):
            say("warning: no daemon has reported to this instance lately: the backup runs when one does")
    return 0


def cmd_snapshots(args) -> int:
    manifests, broken = settings_of(args).snapshot_bucket().read_manifests()
    rows = []
    for snapshot_id in sorted(set(manifests) | set(broken), reverse=True):
        stores, problems = manifests.get(snapshot_id, {}), broken.get(snapshot_id, {})
        rows.append({
            "snapshot": snapshot_id,
            "complete": all(s in stores for s in ("lancedb", "kuzu")) and not problems,
            "created_at": min((m.created_at for m in stores.values()), default=""),
            "bytes": sum(m.size for m in stores.values()),
            "variants": stores["lancedb"].tables.get("variants", {}).get("rows") if "lancedb" in stores else None,
            "graph_variants": stores["kuzu"].tables.get("Variant") if "kuzu" in stores else None,
            "broken": problems,
        })
    if args.json:
        emit(args, rows)
        return 0
    print(f"{'snapshot':<26} {'created (UTC)':<26} {'size':>10} {'variants':>9} {'graph':>9}  state")
    for r in rows:
        state = "complete" if r["complete"] else "INCOMPLETE"
        if r["broken"]:
            state = "BROKEN " + "; ".join(f"{store} manifest: {why}" for store, why in sorted(r["broken"].items()))
        print(f"{r['snapshot']:<26} {r['created_at']:<26} {human_bytes(r['bytes']):>10} {r['variants'] or 0:>9} {r['graph_variants'] or 0:>9}  {state}")
    return 0


def cmd_restore(args) -> int:
    from vcf_pipeline.lib.backup.snapshots import (
        RestoreRefused,
        SnapshotError,
        restore_snapshot,
    )
    from vcf_pipeline.lib.stores.consistency import verify_restored_counts

    settings = settings_of(args)
    if settings.lancedb_uri != str(settings.home / "lancedb"):
        raise Refused(f"restore rebuilds {settings.home / 'lancedb'}, but this home's LanceDB is {settings.lancedb_uri} (lancedb_uri)")
    try:
        restored = restore_snapshot(settings.snapshot_bucket(), settings.home, args.snapshot, args.force, verify_restored_counts)
    except RestoreRefused as exc:
        raise Refused(str(exc)) from None
    except SnapshotError as exc:
        say(f"vcf-pipeline restore: {exc}")
        return 1
    print(f"restored snapshot {restored} into {settings.home / 'lancedb'} and {settings.home / 'kuzu'} (checksums and row counts verified)")
    return 0


def cmd_s3_server(args) -> int:
    import os

    from vcf_pipeline.lib.backup.local_s3 import SeaweedServer
    from vcf_pipeline.lib.system.process_groups import supervising

    settings = settings_of(args)
    access, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not access or not secret:
        raise Refused("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the server refuses anonymous access)")
    children = []
    with supervising(children) as run:
        server = SeaweedServer(settings.s3_folder, access, secret, s3_port=args.port)
        children.append(server.start().process)
        print(f"S3 (SeaweedFS) on {server.endpoint}, data in {settings.s3_folder}, pid {server.process.pid}", flush=True)
        say(f"SeaweedFS exited with {server.process.wait()}")
    return 0 if run.stopped else 1


def add_commands(commands) -> None:
    p = add_command(commands, "backup", cmd_backup, "snapshot both stores to S3 now (the backup job, run in this process)")
    p.add_argument("--submit", action="store_true", help="queue the backup on the instance for its daemon (on any machine sharing it) instead")
    add_command(commands, "snapshots", cmd_snapshots, "list the snapshots in the bucket", json=True)
    p = add_command(commands, "restore", cmd_restore, "rebuild <home>/lancedb and <home>/kuzu from a snapshot, verified")
    p.add_argument("--snapshot", metavar="ID", help="snapshot to restore (default: the newest complete one)")
    p.add_argument("--force", action="store_true", help="replace existing stores (they are moved aside, not deleted)")
    p = add_command(commands, "s3-server", cmd_s3_server, "run a local S3 server (SeaweedFS) on 127.0.0.1 with data under <home>/s3")
    p.add_argument("--port", type=int, default=8333, help="S3 port (default 8333; 0 picks a free one)")
