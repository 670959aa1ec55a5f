import dagster as dg

# One partition per VCF file, keyed `<source>/<relative path>` (see lib/watch/partition_keys.py).
vcf_files = dg.DynamicPartitionsDefinition(name="vcf_files")
