"""Curation values and writes: what an edit may set, and how edits live beside ingests."""

import math

import pytest

from vcf_pipeline.lib.curation import CurationError, check_fields


@pytest.mark.parametrize(
    "fields,problem",
    [
        ({"allele_frequency": math.nan}, "finite number from 0 to 1"),
        ({"allele_frequency": math.inf}, "finite number from 0 to 1"),
        ({"allele_frequency": -5}, "finite number from 0 to 1"),
        ({"allele_frequency": 1.5}, "finite number from 0 to 1"),
        ({"qual": -1e308}, "finite number from 0"),
        ({"qual": -math.inf}, "finite number from 0"),
        ({"gene_symbol": "BRCA1\x00"}, "control character"),
        ({"conditions": ["ok", "bad\nline"]}, "control character"),
        ({"hgvs_c": "c." + "A" * 10_001}, "at most 10000"),
        ({"pos": 5}, "cannot be set"),
        ({"gene_symbol": 5}, "takes string"),
    ],
)
def test_values_out_of_range_or_with_control_characters_are_refused(fields, problem):
    with pytest.raises(CurationError, match=problem):
        check_fields(fields)


def test_ordinary_values_pass():
    fields = {"allele_frequency": 0.0, "qual": 99.5, "gene_symbol": "BRCA1", "conditions": ["Breast cancer"], "rsid": None}
    assert check_fields(dict(fields)) == fields
