import pytest

from vcf_pipeline.lib.watch.partition_keys import decode_key, encode_key


@pytest.mark.parametrize(
    "relative",
    ["a.vcf", "run 1/sample,2.vcf.gz", "x...y.vcf", "grch38#chr8_1-2.vcf", "odd%20name.bcf", "tab\there.vcf", "ünï/cödé.vcf", "a..b/c.vcf"],
)
def test_keys_round_trip_and_avoid_dagster_separators(relative):
    key = encode_key("incoming", relative)
    assert decode_key(key) == ("incoming", relative)
    assert "," not in key and "..." not in key and "\t" not in key


def test_plain_names_stay_readable():
    assert encode_key("incoming", "cohort/NA12878.vcf.gz") == "incoming/cohort/NA12878.vcf.gz"


def test_malformed_keys_are_refused():
    with pytest.raises(ValueError):
        decode_key("no-slash")
    with pytest.raises(ValueError):
        encode_key("a/b", "x.vcf")
