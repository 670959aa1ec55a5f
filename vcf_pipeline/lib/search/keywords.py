"""The `keywords` column: what the full-text index of `variants` holds for each variant.

People name variants exactly, in several spellings: `rs80357906`, `BRCA1`, `ENSG00000012048`,
`c.5096G>A` (with or without its transcript), `p.Arg1699Gln`, `Arg1699Gln`, `p.R1699Q`, `R1699Q`,
a variant id with or without its build. Each spelling is one whitespace-separated, lower-case token
here, so the index (whitespace tokenizer, no stemming) finds it as typed. The words of the consequence,
impact, clinical significance and conditions follow, split at punctuation (`Likely_pathogenic` ->
`likely pathogenic`), for ranking the words of a query.

Built with Arrow compute, a column at a time: a 1M-row ingest must not pay Python per row.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

KEYWORDS = "keywords"
# The index's own settings. Its tokenizer only splits at whitespace, so the tokens made here (and the
# query's, see `query_tokens`) are the terms; no stemming, so an identifier is never altered.
FTS_SETTINGS = dict(base_tokenizer="whitespace", lower_case=True, stem=False, remove_stop_words=False, ascii_folding=True, max_token_length=120)

AMINO_ACIDS = {
    "Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E", "Gly": "G",
    "His": "H", "Ile": "I", "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F", "Pro": "P", "Ser": "S",
    "Thr": "T", "Trp": "W", "Tyr": "Y", "Val": "V", "Sec": "U", "Pyl": "O", "Ter": "*", "Xaa": "X",
}  # fmt: skip
_THREE_LETTER = re.compile("|".join(AMINO_ACIDS))


def one_letter(protein_change: str) -> str:
    """`p.Arg1699Gln` -> `p.R1699Q` (the HGVS one-letter form; `Ter` is `*`)."""
    return _THREE_LETTER.sub(lambda m: AMINO_ACIDS[m.group(0)], protein_change)


def _words(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return pc.replace_substring_regex(column, r"[^A-Za-z0-9]+", " ")


def _after_colon(column) -> pa.Array:
    """`ENST00000357654.9:c.5096G>A` -> `c.5096G>A`; values without a reference sequence stay (a
    breakend's change, `n.5_6ins]chr6:51159910]`, holds a colon of its own)."""
    return pc.replace_substring_regex(column, r"^[^:]*:([cgmnrp]\.)", r"\1")


def _unless_same(form, source):
    """`form`, or null where it equals `source` (a token twice would weigh twice in the ranking)."""
    return pc.if_else(pc.equal(form, source), pa.scalar(None, pa.string()), form)


def _protein_forms(hgvs_p) -> list[pa.Array]:
    short = pc.replace_substring_regex(_after_colon(hgvs_p), r"[()]", "")  # p.(Arg1699Gln): predicted
    bare = pc.replace_substring_regex(short, r"^p\.", "")
    one = bare
    for three, single in AMINO_ACIDS.items():
        one = pc.replace_substring(one, three, single)
    stop_as_x = _unless_same(pc.replace_substring(one, "*", "X"), one)  # R1699X: how many papers write a stop
    one = _unless_same(one, bare)
    prefixed = [pc.binary_join_element_wise("p.", form, "") for form in (one, stop_as_x)]
    return [hgvs_p, _unless_same(short, hgvs_p), bare, one, stop_as_x, *prefixed]


_TEXT_COLUMNS = ("variant_id", "rsid", "gene_symbol", "gene_id", "hgvs_c", "hgvs_p", "consequence", "impact", "variant_type", "clinical_significance")


def keyword_column(data: pa.Table) -> pa.Array:
    """The `keywords` of each row of `data` (a table with the `variants` columns)."""
    if data.num_rows == 0:
        return pa.array([], pa.string())
    text = {name: data[name].cast(pa.string()) for name in _TEXT_COLUMNS}  # all-null columns arrive untyped
    site = pc.replace_substring_regex(text["variant_id"], r"^[^:]*:", "")  # the id without its build
    parts = [
        text["variant_id"], site, pc.replace_substring_regex(site, r"^chr", ""),
        text["rsid"], text["gene_symbol"], text["gene_id"],
        text["hgvs_c"], _unless_same(_after_colon(text["hgvs_c"]), text["hgvs_c"]),
        *_protein_forms(text["hgvs_p"]),
        text["consequence"], _words(text["consequence"]), text["impact"], text["variant_type"],
        _words(text["clinical_significance"]), _words(pc.binary_join(data["conditions"].cast(pa.list_(pa.string())), " ")),
    ]  # fmt: skip
    joined = pc.binary_join_element_wise(*parts, " ", null_handling="skip")
    return pc.utf8_lower(pc.utf8_trim_whitespace(pc.replace_substring_regex(joined, r"\s+", " ")))


def query_token(text: str) -> str:
    """An identifier as the index holds it: lower case, without the parentheses of a predicted
    protein change."""
    return text.replace("(", "").replace(")", "").lower()


def query_words(text: str) -> str:
    """The words of free text, split the way `keyword_column` splits annotation words."""
    return " ".join(re.sub(r"[^A-Za-z0-9]+", " ", text).lower().split())
