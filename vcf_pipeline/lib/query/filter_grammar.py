"""User filters (`--filter "gene_symbol = 'BRCA1' AND pos > 100"`), parsed against a small grammar
and re-rendered, so that no user text reaches LanceDB as SQL.

    expr      := or
    or        := and ("OR" and)*
    and       := not ("AND" not)*
    not       := "NOT" not | "(" expr ")" | predicate
    predicate := column ( op literal | ["NOT"] "IN" "(" literal ("," literal)* ")"
                        | ["NOT"] "LIKE" string | "IS" ["NOT"] "NULL" )
    op        := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    literal   := string ('...', '' for a quote) | number | TRUE | FALSE

Columns must be known (and literals must fit their type and range); anything else (`;`, comments,
functions, subqueries, double-quoted text) is refused with the position of the offending part.
The limits are inside what LanceDB's SQL parser takes (measured on lancedb 0.40: `NOT (` nested 24
deep and parentheses nested about 48 deep fail; 1,000 ANDed or ORed predicates and a 1,000-item IN
list of variant ids run in well under a second). Chains of one operator render flat (`a AND b AND
c`), so the number of predicates never turns into nesting.

Identity columns accept what users type: `chrom = '1'` means `chrom = 'chr1'` (the store's spelling),
`assembly = 'hg38'` means `GRCh38`, and `variant_id = '1-925952-G-A'` (no build) means that site in any
build (an IN list of the full ids it may be).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from vcf_pipeline.lib.vcf.contigs import canonical_contig
from vcf_pipeline.lib.vcf.identity import (
    HG19_MITO,
    BuildError,
    build_of,
    parse_variant_id,
)

MAX_IN_ITEMS = 1_000
MAX_LENGTH = 64_000  # room for a full IN list of long variant ids (1,000 x ~45 characters)
MAX_DEPTH = 16  # parentheses and NOTs nested
MAX_PREDICATES = 1_000
KEYWORDS = {"AND", "OR", "NOT", "IN", "LIKE", "IS", "NULL", "TRUE", "FALSE"}
# Column kinds: what literals a column may be compared with (INTEGER columns take numbers in int64 range).
STRING, NUMBER, INTEGER, BOOLEAN = "string", "number", "integer", "boolean"
INT64 = (-(2**63), 2**63 - 1)

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>--|/\*|\*/|\#)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^']|'')*')
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),-])
    """,
    re.VERBOSE,
)


class FilterError(ValueError):
    """A filter that is refused; `position` is the offset of the offending part."""

    def __init__(self, text: str, position: int, problem: str):
        self.text, self.position, self.problem = text, position, problem
        shown = text if len(text) <= 120 else text[: max(0, position - 40)][-40:] + text[position : position + 80]
        pointer = position if len(text) <= 120 else min(position, 40)
        super().__init__(f"{problem} at position {position}:\n  {shown}\n  {' ' * pointer}^")


@dataclass(frozen=True)
class Token:
    kind: str  # number | string | word | op | punct | end
    text: str
    position: int


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise FilterError(text[:120], 0, f"filter is {len(text)} characters long (at most {MAX_LENGTH})")
    tokens, position = [], 0
    while position < len(text):
        if text[position] == ";":
            raise FilterError(text, position, "';' is not allowed: one filter expression, no statements")
        if text[position] == '"':
            raise FilterError(text, position, "double quotes are not allowed: write strings in single quotes")
        if text[position] == "'" and not _TOKEN.match(text, position):
            raise FilterError(text, position, "unterminated string: a ' is never closed")
        match = _TOKEN.match(text, position)
        if not match:
            raise FilterError(text, position, f"unexpected character {text[position]!r}")
        kind = match.lastgroup
        if kind == "comment":
            raise FilterError(text, position, "comments are not allowed")
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


@dataclass(frozen=True)
class Literal:
    value: str | int | float | bool
    position: int

    def render(self, masked: bool = False) -> str:
        if masked:
            return "?"
        if isinstance(self.value, bool):
            return "TRUE" if self.value else "FALSE"
        if isinstance(self.value, str):
            return "'" + self.value.replace("'", "''") + "'"
        return repr(self.value)


def _quoted(column: str) -> str:
    # Backticks: columns such as `end` and `filter` are SQL keywords (names are known columns only).
    return f"`{column}`"


@dataclass(frozen=True)
class Predicate:
    column: str
    operator: str  # a comparison, IN, NOT IN, LIKE, NOT LIKE, IS NULL, IS NOT NULL
    values: tuple[Literal, ...] = ()

    def render(self, masked: bool = False) -> str:
        if self.operator in ("IS NULL", "IS NOT NULL"):
            return f"{_quoted(self.column)} {self.operator}"
        if self.operator in ("IN", "NOT IN"):
            return f"{_quoted(self.column)} {self.operator} ({', '.join(v.render(masked) for v in self.values)})"
        return f"{_quoted(self.column)} {self.operator} {self.values[0].render(masked)}"


@dataclass(frozen=True)
class Not:
    operand: "Node"

    def render(self, masked: bool = False) -> str:
        return f"NOT ({self.operand.render(masked)})"


@dataclass(frozen=True)
class Chain:
    """Operands joined by one operator, rendered flat; only nested chains get parentheses."""

    operator: str  # AND | OR
    operands: tuple["Node", ...]

    def render(self, masked: bool = False) -> str:
        parts = (f"({o.render(masked)})" if isinstance(o, Chain) else o.render(masked) for o in self.operands)
        return f" {self.operator} ".join(parts)


Node = Predicate | Not | Chain


@dataclass(frozen=True)
class Filter:
    """A parsed filter: `sql` is what LanceDB gets; `masked` (literals as ?) is what logs get."""

    tree: Node

    @property
    def sql(self) -> str:
        return self.tree.render()

    @property
    def masked(self) -> str:
        return self.tree.render(masked=True)


class _Parser:
    def __init__(self, text: str, columns: dict[str, str]):
        self.text, self.columns = text, {c.lower(): (c, k) for c, k in columns.items()}
        self.tokens, self.i, self.depth, self.predicates = tokenize(text), 0, 0, 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.upper() in words

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            self.fail(self.peek(), f"expected {word}")
        self.take()

    def expect(self, text: str) -> Token:
        token = self.peek()
        if token.text != text:
            self.fail(token, f"expected {text!r}")
        return self.take()

    def fail(self, token: Token, problem: str):
        found = "the end of the filter" if token.kind == "end" else repr(token.text)
        raise FilterError(self.text, token.position, f"{problem}, found {found}")

    def parse(self) -> Filter:
        if self.peek().kind == "end":
            raise FilterError(self.text, 0, "empty filter")
        tree = self.disjunction()
        if self.peek().kind != "end":
            self.fail(self.peek(), "expected AND, OR or the end of the filter")
        return Filter(tree)

    def disjunction(self) -> Node:
        return self.chain("OR", self.conjunction)

    def conjunction(self) -> Node:
        return self.chain("AND", self.negation)

    def chain(self, word: str, operand) -> Node:
        """operand (word operand)*, as one flat chain (a parenthesised chain of the same word joins it)."""
        operands = [operand()]
        while self.keyword(word):
            self.take()
            operands.append(operand())
        if len(operands) == 1:
            return operands[0]
        flat = []
        for node in operands:
            flat.extend(node.operands if isinstance(node, Chain) and node.operator == word else (node,))
        return Chain(word, tuple(flat))

    def negation(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH + 1:  # the outermost operand is level 0
            raise FilterError(self.text, self.peek().position, f"filter nests deeper than {MAX_DEPTH} levels")
        try:
            if self.keyword("NOT"):
                self.take()
                return Not(self.negation())
            if self.peek().text == "(":
                self.take()
                if self.keyword("SELECT"):
                    self.fail(self.peek(), "subqueries are not allowed")
                node = self.disjunction()
                self.expect(")")
                return node
            return self.predicate()
        finally:
            self.depth -= 1

    def predicate(self) -> Predicate:
        return _in_store_spelling(self._predicate())

    def _predicate(self) -> Predicate:
        token = self.take()
        if token.kind != "word" or token.text.upper() in KEYWORDS:
            self.fail(token, "expected a column name")
        self.predicates += 1
        if self.predicates > MAX_PREDICATES:
            raise FilterError(self.text, token.position, f"filter has more than {MAX_PREDICATES} comparisons")
        if self.peek().text == "(":
            raise FilterError(self.text, token.position, f"functions are not allowed ({token.text}(...))")
        if token.text.lower() not in self.columns:
            known = ", ".join(sorted(c for c, _ in self.columns.values()))
            raise FilterError(self.text, token.position, f"unknown column {token.text!r} (known: {known})")
        column, kind = self.columns[token.text.lower()]
        if self.keyword("IS"):
            self.take()
            negated = self.keyword("NOT") and bool(self.take())
            self.expect_keyword("NULL")
            return Predicate(column, "IS NOT NULL" if negated else "IS NULL")
        negated = self.keyword("NOT") and bool(self.take())
        if self.keyword("IN"):
            self.take()
            self.expect("(")
            values = [self.literal(kind)]
            while self.peek().text == ",":
                self.take()
                if len(values) == MAX_IN_ITEMS:
                    self.fail(self.peek(), f"IN lists hold at most {MAX_IN_ITEMS} values")
                values.append(self.literal(kind))
            self.expect(")")
            return Predicate(column, "NOT IN" if negated else "IN", tuple(values))
        if self.keyword("LIKE"):
            self.take()
            if kind != STRING:
                self.fail(self.tokens[self.i - 1], f"LIKE needs a text column; {column} is a {kind}")
            return Predicate(column, "NOT LIKE" if negated else "LIKE", (self.literal(STRING),))
        if negated:
            self.fail(self.peek(), "expected IN or LIKE after NOT")
        operator = self.take()
        if operator.kind != "op":
            self.fail(operator, "expected a comparison (=, !=, <, <=, >, >=), IN, LIKE or IS")
        return Predicate(column, "!=" if operator.text == "<>" else operator.text, (self.literal(kind),))

    def literal(self, kind: str) -> Literal:
        token = self.take()
        sign = ""
        if token.text == "-":
            sign, token = "-", self.take()
            if token.kind != "number":
                self.fail(token, "expected a number after '-'")
        if token.kind == "string":
            value: str | int | float | bool = token.text[1:-1].replace("''", "'")
            found = STRING
        elif token.kind == "number":
            text = sign + token.text
            value = float(text) if any(c in text for c in ".eE") else int(text)
            found = NUMBER
            limits = INT64 if kind == INTEGER or isinstance(value, int) else (-math.inf, math.inf)
            if kind in (NUMBER, INTEGER) and not (math.isfinite(value) and limits[0] <= value <= limits[1]):
                raise FilterError(self.text, token.position, f"number {text} is out of range for {self.kind_name(kind)}")
        elif token.kind == "word" and token.text.upper() in ("TRUE", "FALSE"):
            value, found = token.text.upper() == "TRUE", BOOLEAN
        else:
            self.fail(token, "expected a value ('text', a number, TRUE or FALSE)")
        if found != kind and not (found == NUMBER and kind == INTEGER):
            raise FilterError(self.text, token.position, f"a {found} value for a {self.kind_name(kind)} column")
        return Literal(value, token.position)

    @staticmethod
    def kind_name(kind: str) -> str:
        return {INTEGER: "number (64-bit integer)", NUMBER: "number"}.get(kind, kind)


def _in_store_spelling(predicate: Predicate) -> Predicate:
    """Contig names, build names and variant ids in the store's spelling (equality and IN only)."""
    if predicate.operator not in ("=", "!=", "IN", "NOT IN") or predicate.column not in ("chrom", "assembly", "variant_id"):
        return predicate
    values = []
    for literal in predicate.values:
        if not isinstance(literal.value, str):
            values.append(literal)
        elif predicate.column == "chrom":
            values.append(replace(literal, value=canonical_contig(literal.value)))
        elif predicate.column == "assembly" and literal.value.lower() == HG19_MITO:
            values += [replace(literal, value="GRCh37"), replace(literal, value=HG19_MITO)]  # its chrM is apart
        elif predicate.column == "assembly":
            try:
                values.append(replace(literal, value=build_of(literal.value)))
            except BuildError:
                values.append(literal)  # `hg19` (its chrM), `unknown` and names we do not know stay as given
        else:
            parsed = parse_variant_id(literal.value)
            ids = parsed.candidates() if parsed else [literal.value]
            values += [replace(literal, value=i) for i in ids]
    if len(values) == len(predicate.values):
        return replace(predicate, values=tuple(values))
    operator = {"=": "IN", "!=": "NOT IN"}.get(predicate.operator, predicate.operator)
    return replace(predicate, operator=operator, values=tuple(values))


def parse_filter(text: str, columns: dict[str, str]) -> Filter:
    """Parse `text` against `columns` (name -> STRING, NUMBER, INTEGER or BOOLEAN); raises FilterError."""
    return _Parser(text, columns).parse()


def column_kinds(schema) -> dict[str, str]:
    """Filterable columns of an Arrow schema and their kinds (lists and vectors are not filterable)."""
    import pyarrow as pa

    kinds = {}
    for field in schema:
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            kinds[field.name] = STRING
        elif pa.types.is_integer(field.type):
            kinds[field.name] = INTEGER
        elif pa.types.is_floating(field.type):
            kinds[field.name] = NUMBER
        elif pa.types.is_boolean(field.type):
            kinds[field.name] = BOOLEAN
    return kinds
