import dagster as dg

# One partition per VCF file, keyed `<source>/<relative path>` (see lib.partition_keys).
vcf_files = dg.DynamicPartitionsDefinition(name="vcf_files")
