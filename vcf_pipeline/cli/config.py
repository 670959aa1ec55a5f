"""`vcf-pipeline config`: the effective configuration of a home, and where each value came from."""

from __future__ import annotations

from vcf_pipeline.cli.options import add_command, settings_of
from vcf_pipeline.cli.output import emit


def cmd_config(args) -> int:
    settings = settings_of(args)
    rows = settings.explain()
    sources = settings.source_folders()
    payload = {
        "home": str(settings.home),
        "file": str(settings.file) + ("" if settings.file.exists() else " (absent: defaults)"),
        "settings": rows,
        "sources_from": settings.origins["sources"],
        "sources": {name: {"folder": str(folder), "watched": name in sources.watched} for name, folder in sources.folders.items()},
    }
    if args.json:
        emit(args, payload)
        return 0
    print(f"home  {payload['home']}")
    print(f"file  {payload['file']}")
    emit(args, payload, [{"setting": r["key"], "value": r["value"], "from": r["from"], "variable": r["env"]} for r in rows])
    print(f"sources (from {payload['sources_from']}, $VCF_PIPELINE_SOURCES, and folders ingest was pointed at):")
    for name, source in payload["sources"].items():
        print(f"source {name:<12} {source['folder']}{'' if source['watched'] else '  (registered by ingest, not watched)'}")
    return 0


def add_commands(commands) -> None:
    add_command(commands, "config", cmd_config, "the home's effective configuration and where each value comes from", json=True)
