"""A variant named by a user: with its build (`GRCh38:chr1-925952-G-A`) or without (`chr1-925952-G-A`,
`1-925952-G-A`), which stands for the one stored variant at that site in any build, and is refused
with the candidates when several builds hold it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from vcf_pipeline.lib.vcf.identity import parse_variant_id


class VariantIdError(LookupError):
    """No stored variant has this id, or several do (the message lists them)."""


def resolve_variant_id(text: str, stored: Callable[[list[str]], Iterable[str]]) -> str:
    """The stored id `text` names; `stored(ids)` returns those of `ids` the store holds."""
    parsed = parse_variant_id(text)
    if parsed is None:
        return text  # not an id in our format (a curated store may hold others): looked up as given
    found = sorted(set(stored(parsed.candidates())))
    if not found:
        raise VariantIdError(f"no variant {text}" + ("" if parsed.assembly else " in any genome build"))
    if len(found) > 1:
        raise VariantIdError(f"{text} names a variant in {len(found)} genome builds: {', '.join(found)}; give one of these ids")
    return found[0]
