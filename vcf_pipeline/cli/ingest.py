"""`ingest` (files through Dagster in this process) and `backfill` (a Dagster backfill the daemon runs)."""

from __future__ import annotations

from pathlib import Path

from vcf_pipeline.cli.options import Refused, add_command, say, settings_of


def cmd_ingest(args) -> int:
    from vcf_pipeline.instance.in_process_runs import ingest_paths

    settings = settings_of(args)
    if args.build and args.build != "auto":
        from vcf_pipeline.lib.vcf.identity import BuildError, build_of

        try:
            build_of(args.build)
        except BuildError as exc:
            raise Refused(str(exc)) from None
    if args.reference and not args.reference.is_file():
        raise Refused(f"--reference {args.reference}: no such FASTA file")
    if args.submit:
        return _submit(settings, args)
    summaries = ingest_paths(settings.home, args.paths, args.wait, report=say, build=args.build, reference=args.reference)
    if not summaries:
        say("no VCF/BCF files found in: " + " ".join(map(str, args.paths)))
        return 1
    for summary in summaries:
        print(summary.line(), flush=True)
    failed = sum(not s.ok for s in summaries)
    print(f"{len(summaries) - failed} ingested, {failed} failed (home {settings.home})")
    return 1 if failed else 0


def _submit(settings, args) -> int:
    """`ingest --submit`: register the files and queue them as a backfill the daemon (on any
    machine sharing the instance) runs, instead of running them here."""
    import dagster as dg

    from vcf_pipeline.instance.backfills import select_partitions
    from vcf_pipeline.instance.home import prepare_home
    from vcf_pipeline.lib.watch.folder_scan import find_vcf_files

    prepare_home(settings)
    sources = settings.source_folders()
    keys = [sources.key_for(path) for path in find_vcf_files(args.paths)]
    if not keys:
        say("no VCF/BCF files found in: " + " ".join(map(str, args.paths)))
        return 1
    sources.pin(keys, args.build, args.reference)
    with dg.DagsterInstance.get() as instance:
        selection = select_partitions(instance, sources, keys=keys)
        return _queue(settings, instance, selection, "vcf-pipeline ingest --submit", wait=False, timeout=0.0)


def cmd_backfill(args) -> int:
    import dagster as dg

    from vcf_pipeline.instance.backfills import SelectionError, select_partitions
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
        return _queue(settings, instance, selection, title + (" --missing" if args.missing else ""), args.wait, args.timeout)


def _queue(settings, instance, selection, title: str, wait: bool, timeout: float) -> int:
    """Launch the backfill, say where to follow it, and wait for it when asked."""
    from vcf_pipeline.instance.backfills import (
        daemon_running,
        launch_backfill,
        wait_for_backfill,
    )

    backfill_id = launch_backfill(instance, selection.keys, title)
    print(f"backfill {backfill_id}: {len(selection.keys)} partitions queued ({len(selection.registered_now)} newly registered)")
    print(f"  UI: Runs > Backfills, or /runs/b/{backfill_id}", flush=True)
    if not daemon_running(instance):
        say(f"  no Dagster daemon is running for {settings.home}; the backfill starts when one does (make dev)")
    if not wait:
        return 0
    outcome = wait_for_backfill(
        instance, backfill_id, timeout,
        on_run_end=lambda key, status: print(f"  {status:<8} {key}", flush=True),
        on_progress=say,
    )
    print(f"backfill {backfill_id}: {outcome.status}")
    return 0 if outcome.succeeded else 1


def cmd_rebuild(args) -> int:
    import dagster as dg

    from vcf_pipeline.cli.curate import curation
    from vcf_pipeline.instance.home import prepare_home
    from vcf_pipeline.instance.in_process_runs import ingest_paths
    from vcf_pipeline.lib.stores.rebuild import (
        RebuildRefused,
        old_curations,
        retire_stores,
    )
    from vcf_pipeline.lib.watch.sources import UnknownSourceError

    settings = settings_of(args)
    prepare_home(settings)
    with dg.DagsterInstance.get() as instance:
        keys = instance.get_dynamic_partitions("vcf_files")
    sources = settings.source_folders()
    paths = []
    for key in keys:
        try:
            path = sources.path_for(key)
        except UnknownSourceError as exc:
            say(f"skipped: {exc}")
            continue
        if isinstance(path, str):
            raise Refused(f"{key} is an object ({path}): rebuild re-ingests local files; re-run its source with `backfill --source`")
        if path.is_file():
            paths.append(path)
    with curation(settings, args) as done:  # no run writes while the stores move
        try:
            retired = retire_stores(settings.lancedb_uri, settings.kuzu_path.parent, settings.warehouse, settings.home)
        except RebuildRefused as exc:
            raise Refused(str(exc)) from None
        done["rows"] = len(paths)
    print(f"old stores moved to {retired}")
    if len(paths) < len(keys):
        say(f"{len(keys) - len(paths)} registered files are gone; the folder sensor retracts them")
    summaries = ingest_paths(settings.home, paths, args.wait, report=say)
    for summary in summaries:
        print(summary.line(), flush=True)
    failed = sum(not s.ok for s in summaries)
    carried, left = _carry_curations(settings, args, old_curations(retired))
    print(f"{len(summaries) - failed} files ingested, {failed} failed; {carried} curations carried over" + (f", {len(left)} not:" if left else ""))
    for line in left:
        print(f"  {line}")
    return 1 if failed or left else 0


def _carry_curations(settings, args, olds) -> tuple[int, list[str]]:
    from vcf_pipeline.cli.curate import _curator, curation
    from vcf_pipeline.lib.stores.rebuild import carry_curations

    if not olds:
        return 0, []
    with curation(settings, args) as done:  # the pools, and an audit line
        carried, left = carry_curations(_curator(settings), olds)
        done["rows"] = carried
    return carried, left


def add_commands(commands) -> None:
    p = add_command(
        commands, "ingest", cmd_ingest, "register VCF files as partitions and materialise them through Dagster, in this process",
        wait_s=600.0,
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="VCF/BCF files or folders")
    p.add_argument("--build", help="genome build of these files, whatever their headers say (GRCh38, GRCh37, hg19, b37, ...); "
                   "kept for later runs (`auto`: the headers decide again)")
    p.add_argument("--reference", type=Path, metavar="FASTA", help="FASTA to left-align and check alleles against; kept for later runs")
    p.add_argument("--submit", action="store_true", help="queue the files as a backfill that the daemon runs (on any machine sharing "
                   "the instance) instead of running them in this process")

    p = add_command(
        commands, "rebuild", cmd_rebuild, "rebuild the stores from the registered files (for stores an earlier version wrote)",
        description="Moves the LanceDB and Kuzu stores and the warehouse aside, into <home>/retired/<time>/, ingests every "
        "registered file again, and carries curations over to the variants now at their sites.",
        wait_s=600.0,
    )

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
