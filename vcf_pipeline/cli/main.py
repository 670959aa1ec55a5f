"""The `vcf-pipeline` command: one module per group of subcommands, each a thin call into lib."""

from __future__ import annotations

import argparse
import signal
import sys

from vcf_pipeline.cli import backup, config, curate, dev, ingest, query, samples, search
from vcf_pipeline.cli.options import run_command, say


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vcf-pipeline",
        description="VCF folders -> LanceDB + Kuzu variant store. Settings: <home>/vcf-pipeline.yaml, "
        "overridden by environment variables (`vcf-pipeline config` shows both).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for group in (ingest, search, query, samples, curate, backup, config, dev):
        group.add_commands(commands)
    return parser


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if argv is None:  # the command itself: TERM stops it like Ctrl-C (a parent may have left both ignored)
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return run_command(args)
    except KeyboardInterrupt:
        say(f"vcf-pipeline {args.command}: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
