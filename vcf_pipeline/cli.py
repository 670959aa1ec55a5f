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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vcf-pipeline", description="VCF folders -> LanceDB + Kuzu variant store.")
    commands = parser.add_subparsers(dest="command", required=True)
    ingest = commands.add_parser("ingest", help="register VCF files as partitions and materialise them through Dagster")
    ingest.add_argument("--home", help="pipeline home (default: $VCF_PIPELINE_HOME or ./data)")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="VCF/BCF files or folders")
    ingest.set_defaults(run=_ingest)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
