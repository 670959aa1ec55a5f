"""The `vcf-pipeline` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vcf_pipeline.instance import resolve_home


def _ingest(args: argparse.Namespace) -> int:
    from vcf_pipeline.headless import ingest_paths

    home = resolve_home(args.home)
    summaries = ingest_paths(home, args.paths)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vcf-pipeline", description="VCF folders -> LanceDB + Kuzu variant store.")
    commands = parser.add_subparsers(dest="command", required=True)
    ingest = commands.add_parser("ingest", help="register VCF files as partitions and materialise them through Dagster")
    ingest.add_argument("--home", help="pipeline home (default: $VCF_PIPELINE_HOME or ./data)")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="VCF/BCF files or folders")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
