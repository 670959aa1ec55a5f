"""What Dagster loads: everything under `defs/` (found, not listed), plus what is set once here:
the resource every step reads its home from, and the executor the configuration names."""

import os
import warnings
from pathlib import Path

import dagster as dg

from vcf_pipeline.defs.resources import PipelineSettings, executor_at_load
from vcf_pipeline.instance.instance_settings import install

# The code server and run workers write the stores and the warehouse: owner-only, like the home
# itself (genotypes are personal data), whichever way Dagster was started.
os.umask(0o077)

# An instance started by hand (`dg dev`, `dagster dev`, `dagster-daemon run`) on a DAGSTER_HOME whose
# dagster.yaml lacks the project's instance settings gets them merged in for its next start (the
# operator's own values stay); until then the write steps refuse to run without single-writer pools
# (instance/pools.py).
if os.environ.get("DAGSTER_HOME") and install(Path(os.environ["DAGSTER_HOME"])):
    warnings.warn(f"merged the vcf_pipeline instance settings into {os.environ['DAGSTER_HOME']}/dagster.yaml; restart Dagster to apply them")

# Dagster itself passes the beta `owners` parameter when it binds resources to a sensor's jobs.
warnings.filterwarnings("ignore", message="Parameter `owners` of initializer `SensorDefinition", category=dg.BetaWarning)


defs = dg.Definitions.merge(
    dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
    dg.Definitions(
        resources={"settings": PipelineSettings()},
        executor=executor_at_load(),  # in-process unless the home's configuration names another
    ),
)
