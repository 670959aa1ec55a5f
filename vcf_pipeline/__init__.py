"""vcf_pipeline: VCF folders -> parsed variants -> embeddings -> LanceDB + Kuzu, orchestrated by Dagster."""

from vcf_pipeline.lib.system.memory import bound_heap_arenas

# Every process that runs the pipeline (the CLI, Dagster's code server and run workers, tests)
# imports this package first: the allocator is set before LanceDB and Kuzu start their threads.
bound_heap_arenas()
