"""`ingest` (files through Dagster in this process) and `backfill` (a Dagster backfill the daemon runs)."""

from __future__ import annotations

from pathlib import Path

from vcf_pipeline.cli.options import Refused, add_command, say, settings_of


def cmd_ingest(args) -> int:
    from vcf_pipeline.instance.in_process_runs import ingest_paths

    settings = settings_of(args)
    summaries = ingest_paths(settings.home, args.paths, args.wait, report=say)
    if not summaries:
        say("no VCF/BCF files found in: " + " ".join(map(str, args.paths)))
        return 1
    for summary in summaries:
        print(summary.line(), flush=True)
    failed = sum(not s.ok for s in summaries)
    print(f"{len(summaries) - failed} ingested, {failed} failed (home {settings.home})")
    return 1 if failed else 0


def cmd_backfill(args) -> int:
    import dagster as dg

    from vcf_pipeline.instance.backfills import (
        SelectionError,
        daemon_running,
        launch_backfill,
        select_partitions,
        wait_for_backfill,
    )
    from vcf_pipeline.instance.home import prepare_home

    settings = settings_of(args)
    prepare_home(settings)
    with dg.DagsterInstance.get() as instance:
        try:
            selection = select_partitions(
                instance, settings.source_folders(), everything=args.all, keys=args.partitions, source=args.source, missing=args.missing
            )
        except SelectionError as exc:
            raise Refused(str(exc)) from None
        if not selection.keys:
            print("nothing to backfill" + (" (every selected partition is materialised)" if args.missing else ""))
            return 0
        title = "vcf-pipeline backfill " + ("--all" if args.all else f"--source {args.source}" if args.source else "--partitions")
        backfill_id = launch_backfill(instance, selection.keys, title + (" --missing" if args.missing else ""))
        print(f"backfill {backfill_id}: {len(selection.keys)} partitions queued ({len(selection.registered_now)} newly registered)")
        print(f"  UI: Runs > Backfills, or /runs/b/{backfill_id}", flush=True)
        if not daemon_running(instance):
            say(f"  no Dagster daemon is running for {settings.home}; the backfill starts when one does (make dev)")
        if not args.wait:
            return 0
        outcome = wait_for_backfill(
            instance, backfill_id, args.timeout,
            on_run_end=lambda key, status: print(f"  {status:<8} {key}", flush=True),
            on_progress=say,
        )
        print(f"backfill {backfill_id}: {outcome.status}")
        return 0 if outcome.succeeded else 1


def add_commands(commands) -> None:
    p = add_command(
        commands, "ingest", cmd_ingest, "register VCF files as partitions and materialise them through Dagster, in this process",
        wait_s=600.0,
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="VCF/BCF files or folders")

    p = add_command(
        commands, "backfill", cmd_backfill, "re-run partitions as a Dagster backfill, executed by the daemon",
        description="Registers any files not yet registered and launches a Dagster asset backfill of the "
        "ingest assets: one queued run per partition, executed by the daemon (make dev), shown under Runs > Backfills.",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every registered partition and every file in the watched folders")
    which.add_argument("--partitions", nargs="+", metavar="KEY", help="these partition keys (<source>/<path>)")
    which.add_argument("--source", metavar="NAME", help="every file of this source")
    p.add_argument("--missing", action="store_true", help="only partitions not yet materialised by every ingest asset")
    p.add_argument("--wait", action="store_true", help="print each run as it ends; exit 1 if any failed")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds --wait waits (default 3600)")
