import sys

from vcf_pipeline.cli.main import main

sys.exit(main())
