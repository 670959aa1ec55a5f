"""The one resource: the pipeline home. Every other setting (stores, model, S3 target, watch
timings) comes from the home's configuration file and the environment, through
`lib.settings.Settings`, read when a step or a sensor tick runs."""

from __future__ import annotations

from functools import cache

import dagster as dg

from vcf_pipeline.instance.run_launcher import RunHeartbeat
from vcf_pipeline.lib.settings import Settings


class PipelineSettings(dg.ConfigurableResource):
    """The pipeline home (empty: `$VCF_PIPELINE_HOME` when the step runs, else `./data`). Set up once
    per run and process, it also keeps the run's heartbeat, by which run monitoring tells a run whose
    host went away (instance/run_launcher.py)."""

    home: str = ""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        instance, run_id = context.instance, context.run_id
        if instance is not None and run_id:
            def running() -> bool:
                run = instance.get_run_by_id(run_id)
                return run is not None and not run.is_finished

            RunHeartbeat(lambda tags: instance.add_run_tags(run_id, tags), running).start()

    def current(self) -> Settings:
        """The home's effective settings, read now (edits to its configuration file apply to the next step)."""
        return Settings.load(self.home or None)


@cache
def settings_at_load() -> Settings:
    """The settings that shape the definitions themselves (sensor intervals, the backup schedule),
    read once when the code location loads; a change to them needs a reload."""
    return Settings.load()


def executor_at_load() -> dg.ExecutorDefinition:
    """The executor the home's configuration names (`execution.executor`): `in_process` (the default:
    on 2 cores, runs in parallel keep the cores busy, and a process per step would reload the model
    for every step), `multiprocess`, or any Dagster executor by `module:name`, such as
    `dagster_celery:celery_executor` or `dagster_k8s:k8s_job_executor` (their packages installed)."""
    import importlib

    name = settings_at_load()["execution.executor"]
    if name == "in_process":
        return dg.in_process_executor
    if name == "multiprocess":
        return dg.multiprocess_executor
    module, sep, attribute = name.partition(":")
    found = getattr(importlib.import_module(module), attribute, None) if sep else None
    if not isinstance(found, dg.ExecutorDefinition):
        raise ValueError(f"execution.executor {name!r}: not in_process, multiprocess or module:executor naming a Dagster executor")
    return found
