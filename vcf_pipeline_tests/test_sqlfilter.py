"""The filter grammar: valid filters select what they say on a real LanceDB table; hostile or
malformed ones are refused, pointing at the offending part."""

import pyarrow.compute as pc
import pytest

from vcf_pipeline.lib.query.filter_grammar import (
    MAX_LENGTH,
    FilterError,
    column_kinds,
    parse_filter,
)
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import VARIANTS

COLUMNS = {"chrom": "string", "pos": "number", "gene_symbol": "string", "filter": "string", "end": "number", "qual": "number"}

# (filter, a pyarrow oracle over the table): the rows each filter must select.
VALID = [
    ("gene_symbol = 'TP53'", lambda t: pc.equal(t["gene_symbol"], "TP53")),
    ("gene_symbol in ('CFTR', 'LDLR') and pos > 0", lambda t: pc.and_(pc.is_in(t["gene_symbol"], pc.cast(["CFTR", "LDLR"], "string")), pc.greater(t["pos"], 0))),
    # Either contig spelling: the store spells chromosome 17 `chr17`.
    ("NOT (chrom = '17') OR gene_symbol IS NULL", lambda t: pc.or_kleene(pc.invert(pc.equal(t["chrom"], "chr17")), pc.is_null(t["gene_symbol"]))),
    ("chrom IN ('chr17', '13') AND assembly = 'hg38'", lambda t: pc.and_(pc.is_in(t["chrom"], pc.cast(["chr17", "chr13"], "string")), pc.equal(t["assembly"], "GRCh38"))),
    ("gene_symbol LIKE 'BR%'", lambda t: pc.starts_with(t["gene_symbol"], "BR")),
    ("filter = 'PASS' AND end > 0", lambda t: pc.and_(pc.equal(t["filter"], "PASS"), pc.greater(t["end"], 0))),
    ("qual >= 1.5e1 AND clinical_significance IS NOT NULL", lambda t: pc.and_(pc.greater_equal(t["qual"], 15.0), pc.is_valid(t["clinical_significance"]))),
    ("pos <> -1 AND gene_symbol NOT IN ('TP53')", lambda t: pc.and_(pc.not_equal(t["pos"], -1), pc.invert(pc.is_in(t["gene_symbol"], pc.cast(["TP53"], "string"))))),
]


def test_valid_filters_select_exactly_what_they_say_on_real_data(samples_home):
    home, _ = samples_home
    store = VariantStore(home / "lancedb")
    table = store.read(VARIANTS)
    kinds = column_kinds(table.schema)
    for text, oracle in VALID:
        parsed = parse_filter(text, kinds)
        selected = store.read(VARIANTS, columns=["variant_id"], where=parsed.sql)["variant_id"].to_pylist()
        expected = table.filter(oracle(table))["variant_id"].to_pylist()
        assert sorted(selected) == sorted(expected) and expected, text


def test_literals_are_masked_and_quotes_escaped():
    parsed = parse_filter("gene_symbol = 'O''Brien' AND pos IN (1, 2.5) AND chrom LIKE '1%'", COLUMNS)
    assert "'O''Brien'" in parsed.sql
    assert parsed.masked == "`gene_symbol` = ? AND `pos` IN (?, ?) AND `chrom` LIKE ?"
    nested = parse_filter("(pos = 1 OR pos = 2) AND NOT (chrom = '1' AND (chrom = '2' AND pos > 3))", COLUMNS)
    assert nested.masked == "(`pos` = ? OR `pos` = ?) AND NOT (`chrom` = ? AND `chrom` = ? AND `pos` > ?)"


HOSTILE = {
    # stacked statements and comments
    "pos = 1; DROP TABLE variants": ("';' is not allowed", 7),
    "pos = 1;": ("';' is not allowed", 7),
    "; DELETE FROM variants": ("';' is not allowed", 0),
    "pos = 1 -- AND chrom = '1'": ("comments are not allowed", 8),
    "pos = 1 /* x */": ("comments are not allowed", 8),
    "pos = 1 # x": ("comments are not allowed", 8),
    "chrom = '1' */": ("comments are not allowed", 12),
    # quoting tricks
    "chrom = '1' OR '1'='1'": ("expected a column name", 15),
    "chrom = 'unbalanced": ("unterminated string", 8),
    "chrom = '1''": ("unterminated string", 11),
    'chrom = "1"': ("double quotes are not allowed", 8),
    "chrom = `1`": ("unexpected character", 8),
    "`chrom` = '1'": ("unexpected character", 0),
    "chrom = '1' OR 1=1": ("expected a column name", 15),
    "pos = 1 OR TRUE": ("expected a column name", 11),
    # subqueries, functions, other statements
    "pos IN (SELECT pos FROM variants)": ("expected a value", 8),
    "(SELECT 1)": ("subqueries are not allowed", 1),
    "lower(gene_symbol) = 'tp53'": ("functions are not allowed", 0),
    "pos = abs(-1)": ("expected a value", 6),
    "gene_symbol = concat('T', 'P53')": ("expected a value", 14),
    "SELECT * FROM variants": ("unexpected character '*'", 7),
    "DROP TABLE variants": ("unknown column 'DROP'", 0),
    "pos = 1 UNION SELECT 1": ("expected AND, OR", 8),
    "EXISTS (SELECT 1)": ("functions are not allowed", 0),
    "pos = 1 AND sleep(5) = 0": ("functions are not allowed", 12),
    # unknown columns and type mismatches
    "embedding = 1": ("unknown column 'embedding'", 0),
    "password = 'x'": ("unknown column 'password'", 0),
    "_rowid = 1": ("unknown column '_rowid'", 0),
    "pos = 'x'": ("a string value for a number column", 6),
    "chrom = 17": ("a number value for a string column", 8),
    "pos LIKE '1%'": ("LIKE needs a text column", 4),
    "chrom = TRUE": ("a boolean value for a string column", 8),
    # malformed expressions
    "": ("empty filter", 0),
    "   ": ("empty filter", 0),
    "pos >": ("expected a value", 5),
    "pos = = 1": ("expected a value", 6),
    "(pos = 1": ("expected ')'", 8),
    "pos = 1)": ("expected AND, OR", 7),
    "pos = 1 AND": ("expected a column name", 11),
    "AND pos = 1": ("expected a column name", 0),
    "pos 1": ("expected a comparison", 4),
    "pos IS 1": ("expected NULL", 7),
    "pos NOT = 1": ("expected IN or LIKE after NOT", 8),
    "pos IN ()": ("expected a value", 8),
    "pos IN (1, 2": ("expected ')'", 12),
    "pos = - 'x'": ("expected a number after '-'", 8),
    "pos = 1 - 1": ("expected AND, OR", 8),
    "pos = 0x10": ("expected AND, OR", 7),
    "chrom = '1' \x00": ("unexpected character", 12),
    "pos == 1": ("expected a value", 5),
    # huge inputs
    "(" * 100 + "pos = 1" + ")" * 100: ("nests deeper than", 17),
    "NOT " * 100 + "pos = 1": ("nests deeper than", 68),
    " AND ".join(["pos = 1"] * 1_001): ("more than 1000 comparisons", 12 * 1_000),
    "pos = 1e400": ("number 1e400 is out of range", 6),
    "pos = 99999999999999999999999": ("number 99999999999999999999999 is out of range", 6),
    "qual > -1e999": ("number -1e999 is out of range", 8),
    "pos IN (" + ", ".join(["1"] * 1_002) + ")": ("at most 1000 values", 3008),
    "chrom = '" + "x" * MAX_LENGTH + "'": (f"at most {MAX_LENGTH}", 0),
}


@pytest.mark.parametrize("text", list(HOSTILE), ids=[f"hostile{i:02d}" for i in range(len(HOSTILE))])
def test_hostile_and_malformed_filters_are_refused_at_the_offending_part(text):
    problem, position = HOSTILE[text]
    with pytest.raises(FilterError) as refused:
        parse_filter(text, COLUMNS)
    assert problem in refused.value.problem, refused.value.problem
    assert refused.value.position == position, str(refused.value)
    assert "^" in str(refused.value)  # the message points at it


def test_there_are_at_least_forty_hostile_filters():
    assert len(HOSTILE) >= 40


def test_the_largest_filters_the_grammar_accepts_run_in_lancedb(samples_home):
    """The grammar's limits sit inside LanceDB's: its deepest, longest filters run; one more is refused."""
    home, _ = samples_home
    store = VariantStore(home / "lancedb")
    kinds = column_kinds(store.read(VARIANTS).schema)
    ids = [f"chr17-{43_000_000 + i}-ACGTACGTACGTACGTACGTACGTACGTACGT-A" for i in range(1_000)]
    biggest = {
        "1,000 ANDed comparisons": " AND ".join(f"pos != {i}" for i in range(1_000)),
        "1,000 ORed comparisons": " OR ".join(f"pos = {i}" for i in range(1_000)),
        "parentheses 16 deep": "(" * 16 + "pos > 0" + ")" * 16,
        "NOT 16 deep": "NOT " * 16 + "pos > 0",
        "alternating AND/OR 16 deep": "pos > 0" + "".join(f" {'AND' if i % 2 else 'OR'} (pos > {i}" for i in range(16)) + ")" * 16,
        "IN list of 1,000 long variant ids": "variant_id IN (" + ", ".join(f"'{i}'" for i in ids) + ")",
        "largest int64": f"pos < {2**63 - 1}",
    }
    rows = store.count(VARIANTS)
    for name, text in biggest.items():
        selected = store.read(VARIANTS, columns=["variant_id"], where=parse_filter(text, kinds).sql).num_rows
        assert 0 <= selected <= rows, name
    assert store.read(VARIANTS, columns=["pos"], where=parse_filter(biggest["NOT 16 deep"], kinds).sql).num_rows == rows
    for deeper in ("(" * 17 + "pos > 0" + ")" * 17, "NOT " * 17 + "pos > 0"):
        with pytest.raises(FilterError, match="nests deeper than 16"):
            parse_filter(deeper, kinds)
    with pytest.raises(FilterError, match="out of range for number \\(64-bit integer\\)"):
        parse_filter("pos = 1e300", kinds)  # a float column takes it; an integer column would fail inside LanceDB
    parse_filter("qual < 1e300", kinds)


def test_a_variant_id_without_its_build_selects_that_site_in_every_build(samples_home):
    home, _ = samples_home
    store = VariantStore(home / "lancedb")
    table = store.read(VARIANTS, columns=["variant_id", "chrom", "pos", "ref", "alt"])
    row = table.slice(0, 1).to_pylist()[0]
    bare = f"{row['chrom'].removeprefix('chr')}-{row['pos']}-{row['ref']}-{row['alt']}"  # Ensembl spelling, no build
    parsed = parse_filter(f"variant_id = '{bare}'", column_kinds(table.schema))
    assert store.read(VARIANTS, columns=["variant_id"], where=parsed.sql)["variant_id"].to_pylist() == [row["variant_id"]]
