"""vcf_pipeline: VCF folders -> parsed variants -> embeddings -> LanceDB + Kuzu, orchestrated by Dagster."""
