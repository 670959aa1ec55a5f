"""The one resource: the pipeline home. Every other setting (stores, model, S3 target, watch
timings) comes from the home's configuration file and the environment, through
`lib.settings.Settings`, read when a step or a sensor tick runs."""

from __future__ import annotations

from functools import cache

import dagster as dg

from vcf_pipeline.lib.settings import Settings


class PipelineSettings(dg.ConfigurableResource):
    """The pipeline home (empty: `$VCF_PIPELINE_HOME` when the step runs, else `./data`)."""

    home: str = ""

    def current(self) -> Settings:
        """The home's effective settings, read now (edits to its configuration file apply to the next step)."""
        return Settings.load(self.home or None)


@cache
def settings_at_load() -> Settings:
    """The settings that shape the definitions themselves (sensor intervals, the backup schedule),
    read once when the code location loads; a change to them needs a reload."""
    return Settings.load()
