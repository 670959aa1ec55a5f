"""htslib's reading of every record, beside the column-wise reader (lib/vcf/text_columns.py): a
record pysam refuses fails the file with the record-by-record reader's words.

In a file with samples the check reads the sites only (pysam's `drop_samples`): the genotype query
(`bcftools query`, lib/vcf/genotype_columns.py) parses every sample column through the same htslib
and fails where htslib refuses one. The one sample-column fault htslib reads past, setting an error
code on the record for pysam to refuse it, is a FORMAT key named twice (`vcf_parse_format`'s
`Duplicate FORMAT tag`): `format_naming_a_key_twice` looks for it in each distinct FORMAT.
"""

from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.compute as pc
import pysam


class RecordCheck:
    """pysam reads every record once, in a thread (htslib lets go of the GIL while it reads);
    `sites_only`: the sample columns are left unread."""

    def __init__(self, path, sites_only: bool = False):
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._read, args=(str(path), sites_only), daemon=True, name="vcf-record-check")
        self._thread.start()

    def _read(self, path: str, sites_only: bool) -> None:
        try:
            with pysam.VariantFile(path, drop_samples=sites_only) as vcf:
                for _ in vcf:
                    pass
        except (ValueError, OSError) as exc:
            self.error = exc

    def failed(self) -> bool:
        self._thread.join()
        return self.error is not None


def format_naming_a_key_twice(formats: pa.Array) -> str | None:
    """The first distinct FORMAT text that names a key twice, if any."""
    for text in pc.unique(formats).to_pylist():
        keys = text.split(":")
        if len(set(keys)) < len(keys):
            return text
    return None
