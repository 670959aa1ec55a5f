"""The `vcf-pipeline` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vcf_pipeline.instance import resolve_home


def _ingest(args: argparse.Namespace) -> int:
    from vcf_pipeline.headless import ingest_paths

    home = resolve_home(args.home)
    summaries = ingest_paths(home, args.paths, args.wait, report=lambda line: print(line, file=sys.stderr, flush=True))
    if not summaries:
        print("no VCF/BCF files found in: " + " ".join(map(str, args.paths)), file=sys.stderr)
        return 1
    for summary in summaries:
        print(summary.line(), flush=True)
    failed = sum(not s.ok for s in summaries)
    print(f"{len(summaries) - failed} ingested, {failed} failed (home {home})")
    return 1 if failed else 0


def _backfill(args: argparse.Namespace) -> int:
    import dagster as dg

    from vcf_pipeline.backfills import SelectionError, daemon_running, launch_backfill, select_partitions, wait_for_backfill
    from vcf_pipeline.instance import prepare_home
    from vcf_pipeline.lib.sources import Sources

    home = resolve_home(args.home)
    prepare_home(home)
    with dg.DagsterInstance.get() as instance:
        try:
            selection = select_partitions(
                instance, Sources.load(home), everything=args.all, keys=args.partitions, source=args.source, missing=args.missing
            )
        except SelectionError as exc:
            print(f"vcf-pipeline backfill: {exc}", file=sys.stderr)
            return 2
        if not selection.keys:
            print("nothing to backfill" + (" (every selected partition is materialised)" if args.missing else ""))
            return 0
        title = "vcf-pipeline backfill " + ("--all" if args.all else f"--source {args.source}" if args.source else "--partitions")
        backfill_id = launch_backfill(instance, selection.keys, title + (" --missing" if args.missing else ""))
        print(f"backfill {backfill_id}: {len(selection.keys)} partitions queued ({len(selection.registered_now)} newly registered)")
        print(f"  UI: runs of this backfill under /runs/b/{backfill_id} (Overview > Backfills)")
        if not daemon_running(instance):
            print(f"  no Dagster daemon is running for {home}; the backfill starts when one does (make dev)", file=sys.stderr)
        if not args.wait:
            return 0
        outcome = wait_for_backfill(instance, backfill_id, args.timeout)
        for key, status in sorted(outcome.runs.items()):
            print(f"  {status:<8} {key}")
        print(f"backfill {backfill_id}: {outcome.status}")
        return 0 if outcome.succeeded else 1


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _s3_server(args: argparse.Namespace) -> int:
    import os
    import signal

    from vcf_pipeline.lib.s3_server import SeaweedServer

    home = resolve_home(args.home)
    access, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not access or not secret:
        print("vcf-pipeline s3-server: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the server refuses anonymous access)", file=sys.stderr)
        return 2
    server = SeaweedServer(home / "s3", access, secret, s3_port=args.port).start()
    print(f"S3 (SeaweedFS) on {server.endpoint}, data in {home / 's3'}, pid {server.process.pid}", flush=True)

    def stop(*_):
        server.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = server.process.wait()
    print(f"SeaweedFS exited with {code}", file=sys.stderr)
    return 1


def _backup(args: argparse.Namespace) -> int:
    from vcf_pipeline.headless import back_up

    _snapshot_bucket()  # settings checked (bucket set, a valid name) before Dagster starts
    summary = back_up(resolve_home(args.home))
    if not summary.ok:
        print(f"backup FAILED: {summary.error}", file=sys.stderr)
        return 1
    print(f"snapshot {summary.snapshot_id}")
    for store, m in summary.stores.items():
        print(f"  {store:<8} uploaded {_human(m['bytes_uploaded'])} ({m['files_uploaded']} files), reused {_human(m['bytes_reused'])}")
    return 0


def _snapshot_bucket():
    from vcf_pipeline.defs.backup import backup_target_from_env, s3_from_env

    target = backup_target_from_env(resolve=True)
    if not isinstance(target.bucket, str):
        raise SystemExit("vcf-pipeline: set VCF_PIPELINE_S3_BUCKET (and VCF_PIPELINE_S3_ENDPOINT for a non-AWS store)")
    return target.snapshots(s3_from_env(resolve=True))


def _s3_command(handler):
    """Run a command that talks to the bucket; S3 settings, endpoint and credential problems become one
    line on stderr and exit 1 (2 for an invalid setting), not a traceback."""

    def run(args: argparse.Namespace) -> int:
        import os

        from vcf_pipeline.lib.s3_errors import S3SettingsError, describe_s3_error

        try:
            return handler(args)
        except S3SettingsError as exc:
            print(f"vcf-pipeline {args.command}: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:
            message = describe_s3_error(exc, os.environ.get("VCF_PIPELINE_S3_ENDPOINT"), os.environ.get("VCF_PIPELINE_S3_BUCKET", ""))
            if message is None:
                raise
            print(f"vcf-pipeline {args.command}: {message}", file=sys.stderr)
            return 1

    return run


def _snapshots(args: argparse.Namespace) -> int:
    import json

    manifests, broken = _snapshot_bucket().read_manifests()
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
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'snapshot':<26} {'created (UTC)':<26} {'size':>10} {'variants':>9} {'graph':>9}  state")
    for r in rows:
        state = "complete" if r["complete"] else "INCOMPLETE"
        if r["broken"]:
            state = "BROKEN " + "; ".join(f"{store} manifest: {why}" for store, why in sorted(r["broken"].items()))
        print(f"{r['snapshot']:<26} {r['created_at']:<26} {_human(r['bytes']):>10} {r['variants'] or 0:>9} {r['graph_variants'] or 0:>9}  {state}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from vcf_pipeline.lib.consistency import verify_restored_counts
    from vcf_pipeline.lib.s3_sync import RestoreRefused, SnapshotError, restore_snapshot

    home = resolve_home(args.home)
    try:
        restored = restore_snapshot(_snapshot_bucket(), home, args.snapshot, args.force, verify_restored_counts)
    except RestoreRefused as exc:
        print(f"vcf-pipeline restore: {exc}", file=sys.stderr)
        return 2
    except SnapshotError as exc:
        print(f"vcf-pipeline restore: {exc}", file=sys.stderr)
        return 1
    print(f"restored snapshot {restored} into {home / 'lancedb'} and {home / 'kuzu'} (checksums and row counts verified)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vcf-pipeline", description="VCF folders -> LanceDB + Kuzu variant store.")
    commands = parser.add_subparsers(dest="command", required=True)
    ingest = commands.add_parser("ingest", help="register VCF files as partitions and materialise them through Dagster")
    ingest.add_argument("--home", help="pipeline home (default: $VCF_PIPELINE_HOME or ./data)")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="VCF/BCF files or folders")
    ingest.add_argument("--wait", type=float, default=600.0, help="seconds to wait for a store another run is writing (default 600)")
    ingest.set_defaults(run=_ingest)

    backfill = commands.add_parser(
        "backfill",
        help="re-run partitions as a Dagster backfill, executed by the daemon",
        description="Registers any files not yet registered and launches a Dagster asset backfill of the "
        "ingest assets: one queued run per partition, executed by the daemon (make dev), shown on the UI's backfills page.",
    )
    backfill.add_argument("--home", help="pipeline home (default: $VCF_PIPELINE_HOME or ./data)")
    which = backfill.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every registered partition and every file in the watched folders")
    which.add_argument("--partitions", nargs="+", metavar="KEY", help="these partition keys (<source>/<path>)")
    which.add_argument("--source", metavar="NAME", help="every file of this source")
    backfill.add_argument("--missing", action="store_true", help="only partitions not yet materialised by every ingest asset")
    backfill.add_argument("--wait", action="store_true", help="wait for the backfill's runs and report them; exit 1 if any failed")
    backfill.add_argument("--timeout", type=float, default=3600.0, help="seconds --wait waits (default 3600)")
    backfill.set_defaults(run=_backfill)

    s3 = commands.add_parser("s3-server", help="run a local S3 server (SeaweedFS) on 127.0.0.1 with data under <home>/s3")
    s3.add_argument("--home", help="pipeline home (default: $VCF_PIPELINE_HOME or ./data)")
    s3.add_argument("--port", type=int, default=8333, help="S3 port (default 8333; 0 picks a free one)")
    s3.set_defaults(run=_s3_server)

    backup = commands.add_parser("backup", help="snapshot both stores to S3 now (the backup job, run headless)")
    backup.add_argument("--home", help="pipeline home (default: $VCF_PIPELINE_HOME or ./data)")
    backup.set_defaults(run=_s3_command(_backup))

    snapshots = commands.add_parser("snapshots", help="list the snapshots in the bucket")
    snapshots.add_argument("--json", action="store_true", help="JSON instead of a table")
    snapshots.set_defaults(run=_s3_command(_snapshots))

    restore = commands.add_parser("restore", help="rebuild <home>/lancedb and <home>/kuzu from a snapshot, verified")
    restore.add_argument("--home", help="pipeline home (default: $VCF_PIPELINE_HOME or ./data)")
    restore.add_argument("--snapshot", metavar="ID", help="snapshot to restore (default: the newest complete one)")
    restore.add_argument("--force", action="store_true", help="replace existing stores (they are moved aside, not deleted)")
    restore.set_defaults(run=_s3_command(_restore))

    from vcf_pipeline.query_cli import add_commands

    add_commands(commands)
    return parser


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    import signal

    args = build_parser().parse_args(argv)
    if argv is None:  # the command itself: TERM stops it like Ctrl-C (a parent may have left both ignored)
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"vcf-pipeline {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
