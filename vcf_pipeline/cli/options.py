"""What every command shares: the options declared once (`--home`, `--json`, `--wait`), the home's
settings, and how failures end a command (one line on stderr; exit 2 for refused input, 1 for a
failure)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from vcf_pipeline.lib.settings import Settings, SettingsError

WRITE_WAIT_S = 120.0


class Refused(Exception):
    """Bad usage or refused input: exit 2 with this message."""


def add_command(commands, name: str, handler: Callable, help: str, *, json: bool = False, wait_s: float | None = None, **parser_args):
    """A subcommand with the options every command takes (`--home`), `--json` where it prints rows,
    and `--wait` where it waits for a store another run is writing."""
    parser = commands.add_parser(name, help=help, description=parser_args.pop("description", help), **parser_args)
    parser.add_argument("--home", help="pipeline home (default: $VCF_PIPELINE_HOME or ./data)")
    if json:
        parser.add_argument("--json", action="store_true", help="JSON output")
    if wait_s is not None:
        parser.add_argument("--wait", type=float, default=wait_s, help=f"seconds to wait while a pipeline run writes (default {wait_s:.0f})")
    parser.set_defaults(run=handler)
    return parser


def add_selection_options(parser) -> None:
    """`--region`, `--regions FILE.bed`, `--genes FILE`: what a command selects besides its filter."""
    parser.add_argument("--region", action="append", metavar="REGION", help="CHROM:START-END, 1-based (e.g. chr17:43044295-43125483); repeatable")
    parser.add_argument("--regions", metavar="BED", help="a BED file of regions (0-based, half-open)")
    parser.add_argument("--genes", metavar="FILE", help="gene symbols, one a line")


def selection_of(args: argparse.Namespace):
    """The selection of `add_selection_options`' options (refused when a file or region is bad)."""
    from vcf_pipeline.lib.search.selection import SelectionError, selection_from

    try:
        return selection_from(args.region, args.regions, args.genes)
    except SelectionError as exc:
        raise Refused(str(exc)) from exc


def settings_of(args: argparse.Namespace) -> Settings:
    """The home's settings (its configuration file, overridden by the environment)."""
    try:
        return Settings.load(args.home)
    except SettingsError as exc:
        raise Refused(str(exc)) from exc


def say(line: str) -> None:
    """Progress and warnings: stderr, so stdout stays the command's answer."""
    print(line, file=sys.stderr, flush=True)


def run_command(args: argparse.Namespace) -> int:
    """Run the chosen command; refused input and failures end it with one line, not a traceback."""
    try:
        return args.run(args)
    except Exception as exc:
        if _is_refusal(exc):  # an edit the store refuses, an S3 setting, a store of an earlier version
            say(f"vcf-pipeline {args.command}: {exc}")
            return 2
        # A failure, said in one line; the traceback helps nobody at a terminal.
        say(f"vcf-pipeline {args.command}: {_describe(exc, args)}")
        return 1


def _is_refusal(exc: Exception) -> bool:
    # Imported only now: a command that never touches the stores never loads LanceDB.
    from vcf_pipeline.lib.backup.s3_errors import S3SettingsError
    from vcf_pipeline.lib.stores.curation import CurationError
    from vcf_pipeline.lib.stores.identity_format import OldIdentityError

    return isinstance(exc, Refused | CurationError | S3SettingsError | OldIdentityError)


def _describe(exc: Exception, args: argparse.Namespace) -> str:
    from vcf_pipeline.lib.backup.s3_errors import describe_s3_error

    try:
        home = Settings.load(getattr(args, "home", None))
        s3 = describe_s3_error(exc, home["s3.endpoint"], home["s3.bucket"])
    except SettingsError:
        s3 = None
    return s3 or f"failed: {type(exc).__name__}: {exc}"
