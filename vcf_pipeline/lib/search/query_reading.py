"""How a search query is read before anything is ranked: the words that name something exactly
(an rsID, a variant id, an HGVS change, a region, a gene id, a gene symbol the store holds) become
lookups; the words left over are what the ranking orders the matches by.

`BRCA1 pathogenic` reads as gene BRCA1, ranked by "pathogenic". `NM_007294.4(BRCA1):c.5096G>A` reads
as gene BRCA1 and the change c.5096G>A. Gene symbols come from the store (`known_genes`), so a new
gene needs no list to be edited; a lower-case word is taken for a gene only when it has a digit
(`brca1`), so that `met` or `pole` in a sentence stay words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from vcf_pipeline.lib.search.keywords import query_token
from vcf_pipeline.lib.search.selection import looks_like_region, parse_region
from vcf_pipeline.lib.vcf.identity import parse_variant_id

_RSID = re.compile(r"rs\d+", re.IGNORECASE)
_GENE_ID = re.compile(r"ENSG\d{6,}(\.\d+)?", re.IGNORECASE)
# HGVS with its reference sequence and gene: `NM_007294.4(BRCA1):c.5096G>A`, `ENST0001.2:c.76A>T`.
_QUALIFIED_CHANGE = re.compile(r"(?P<sequence>[A-Za-z][\w.-]*?)?(?:\((?P<gene>[\w.@/-]+)\))?:(?P<change>[cgnmrp]\.\S+)")
_CODING_CHANGE = re.compile(r"[cgnmr]\.\(?[-*]?\d\S*")
_AA = r"(?:Ala|Arg|Asn|Asp|Cys|Gln|Glu|Gly|His|Ile|Leu|Lys|Met|Phe|Pro|Ser|Thr|Trp|Tyr|Val|Sec|Pyl|Ter|Xaa|[ACDEFGHIKLMNPQRSTVWY*X])"
# p.Arg1699Gln, p.(Arg1699Gln), R1699Q, E220*, p.Leu2Valfs*5, Ser484=: a residue, a position, what follows.
_PROTEIN_CHANGE = re.compile(rf"(?:p\.)?\(?{_AA}\d+(?:_{_AA}\d+)?(?:{_AA}|=|\?|fs|del|dup|ins|ext)\S*", re.IGNORECASE)
_BARE_PROTEIN = re.compile(rf"{_AA}\d+(?:_{_AA}\d+)?(?:{_AA}|=|fs|del|dup|ins|ext)\S*")  # case as typed: V600E, not v600e
_SYMBOL = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,19}(?:\.\d+)?|[A-Z0-9][A-Za-z0-9-]{1,19}")

KINDS = ("gene", "gene_id", "region", "variant_id", "rsid", "hgvs_c", "hgvs_p")
TOKEN_KINDS = ("hgvs_c", "hgvs_p")  # found through the full-text index's tokens (an rsID has its own column)


@dataclass(frozen=True)
class Lookup:
    """One exact thing named in the query."""

    kind: str  # one of KINDS
    typed: str  # as the user wrote it
    value: str  # gene symbol, gene id, region text, variant id candidates joined by ",", or an index token

    def describe(self) -> str:
        names = {"gene": "gene", "gene_id": "gene id", "region": "region", "variant_id": "variant id",
                 "rsid": "rsID", "hgvs_c": "HGVS change", "hgvs_p": "protein change"}  # fmt: skip
        shown = self.value if self.kind in ("gene", "gene_id", "region") else self.typed
        return f"{names[self.kind]} {shown}"


@dataclass
class ReadQuery:
    """A query as read: its lookups (same kind: any of them; different kinds: all of them) and the
    words left for ranking."""

    text: str
    lookups: list[Lookup] = field(default_factory=list)
    rest: str = ""

    def of_kind(self, kind: str) -> list[Lookup]:
        return [lookup for lookup in self.lookups if lookup.kind == kind]

    def describe(self) -> list[str]:
        lines = [f"{lookup.describe()} (exact)" for lookup in self.lookups]
        if self.rest:
            lines.append(f"ranked by {self.rest!r}")
        return lines


def read_query(text: str, known_genes: Callable[[Iterable[str]], dict[str, str]]) -> ReadQuery:
    """Read `text`. `known_genes(words)` answers which of the candidate words are gene symbols the
    store holds (a map from the word to the symbol as stored)."""
    read = ReadQuery(text.strip())
    words = [w for w in (w.strip(",;") for w in read.text.split()) if w]  # "BRCA1, TP53": a list typed with commas
    candidates = {w: _gene_candidates(w) for w in words if _could_be_gene(w)}
    genes = known_genes([c for names in candidates.values() for c in names]) if candidates else {}
    rest = []
    for word in words:
        symbol = next((genes[c] for c in candidates.get(word, ()) if c in genes), None)
        lookups = [Lookup("gene", word, symbol)] if symbol else _exact(word, known_genes)
        if lookups:
            read.lookups += [lookup for lookup in lookups if lookup not in read.lookups]
        else:
            rest.append(word)
    read.rest = " ".join(rest)
    return read


def _could_be_gene(word: str) -> bool:
    return bool(_SYMBOL.fullmatch(word)) and (word != word.lower() or any(c.isdigit() for c in word))


def _gene_candidates(word: str) -> list[str]:
    return list(dict.fromkeys([word, word.upper()]))


def _exact(word: str, known_genes) -> list[Lookup]:
    """The lookups one word names, or [] when it names nothing exactly."""
    if _RSID.fullmatch(word):
        return [Lookup("rsid", word, word.lower())]
    if _GENE_ID.fullmatch(word):
        return [Lookup("gene_id", word, word.upper().split(".")[0])]
    parsed = parse_variant_id(word) if word.count("-") >= 3 else None
    if parsed:
        return [Lookup("variant_id", word, ",".join(parsed.candidates()))]
    if looks_like_region(word) and ":" in word and not _QUALIFIED_CHANGE.fullmatch(word):
        return [Lookup("region", word, str(parse_region(word)))]
    qualified = _QUALIFIED_CHANGE.fullmatch(word)
    if qualified:
        change = _change(qualified.group("change"))
        gene = qualified.group("gene") or qualified.group("sequence")
        symbol = known_genes([gene, gene.upper()]) if gene and not re.match(r"(NM|NP|NR|XM|XP|NC|NG|ENS[TPG])_?\d", gene, re.I) else {}
        found = [Lookup("gene", gene, next(iter(symbol.values())))] if symbol else []
        return found + ([change] if change else [])
    change = _change(word)
    return [change] if change else []


def _change(text: str) -> Lookup | None:
    if _CODING_CHANGE.fullmatch(text):
        return Lookup("hgvs_c", text, query_token(text))
    if (text.lower().startswith("p.") and _PROTEIN_CHANGE.fullmatch(text)) or _BARE_PROTEIN.fullmatch(text):
        return Lookup("hgvs_p", text, query_token(text))
    return None
