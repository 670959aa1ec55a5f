"""What each explorer page shows, gathered from `lib` (no web code here: `app.py` renders it).

Every user input goes through the filter grammar, the region parser or a bound graph parameter, as
on the command line; nothing here writes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from vcf_pipeline.lib.query.file_summary import IMPACTS
from vcf_pipeline.lib.search.selection import all_of, parse_region, quoted
from vcf_pipeline.lib.stores.variant_tables import present

PAGE_SIZE = 25
MAX_PAGES = 40
RANKED = PAGE_SIZE * MAX_PAGES  # the rows a search ranks; pages and the CSV export are slices of them
RESULT_COLUMNS = ["variant_id", "assembly", "chrom", "pos", "ref", "alt", "gene_symbol", "consequence", "impact", "hgvs_p",
                  "clinical_significance", "allele_frequency", "cohort_af"]  # fmt: skip


class PageRefused(ValueError):
    """Input the page refuses (shown on the page, status 400)."""


@dataclass
class SearchForm:
    q: str = ""
    mode: str = "hybrid"
    gene: str = ""
    region: str = ""
    significance: str = ""
    impact: str = ""
    max_af: str = ""
    build: str = ""
    filter: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, params) -> "SearchForm":
        values = {k: (params.get(k) or "").strip() for k in ("q", "mode", "gene", "region", "significance", "impact", "max_af", "build", "filter")}
        values["mode"] = values["mode"] or "hybrid"
        try:
            page = int(params.get("page") or 1)
        except ValueError:
            raise PageRefused(f"page {params.get('page')!r} is not a number") from None
        if not 1 <= page <= MAX_PAGES:
            raise PageRefused(f"page {page}: pages 1 to {MAX_PAGES} (narrow the search for more)")
        return cls(**values, page=page)

    @property
    def empty(self) -> bool:
        return not any((self.q, self.gene, self.region, self.significance, self.impact, self.max_af, self.build, self.filter))

    def where(self, schema) -> str | None:
        """The SQL of the form's filters, each validated (the grammar, the region parser)."""
        from vcf_pipeline.lib.query.filter_grammar import (
            FilterError,
            column_kinds,
            parse_filter,
        )

        clauses = []
        if self.gene:
            clauses.append(f"gene_symbol = {quoted(self.gene)}")
        if self.significance:
            # Any case, ClinVar's underscores as spaces: `pathogenic` finds Pathogenic and Likely pathogenic.
            wanted = self.significance.replace("%", "").replace("_", " ").lower()
            clauses.append(f"lower(clinical_significance) LIKE {quoted('%' + wanted + '%')}")
        if self.impact:
            if self.impact not in IMPACTS:
                raise PageRefused(f"impact {self.impact!r}: one of {', '.join(IMPACTS)}")
            clauses.append(f"impact = {quoted(self.impact)}")
        if self.max_af:
            try:
                af = float(self.max_af)
            except ValueError:
                raise PageRefused(f"max AF {self.max_af!r} is not a number") from None
            if not (math.isfinite(af) and 0 <= af <= 1):
                raise PageRefused(f"max AF {self.max_af!r}: a frequency between 0 and 1")
            clauses.append(f"(allele_frequency IS NULL OR allele_frequency <= {af!r})")
        if self.build:
            clauses.append(f"assembly = {quoted(self.build)}")
        try:
            if self.filter:
                clauses.append(parse_filter(self.filter, column_kinds(schema)).sql)
            if self.region:
                clauses.append(parse_region(self.region).sql())
        except (FilterError, ValueError) as exc:
            raise PageRefused(str(exc)) from None
        return all_of(*clauses)


@dataclass
class SearchPage:
    rows: list[dict] = field(default_factory=list)
    reading: list[str] = field(default_factory=list)
    note: str = ""
    more: bool = False


def search_rows(table, encode, form: SearchForm, limit: int, nprobes: int = 32, refine_factor: int = 20) -> SearchPage:
    """The first `limit` results: ranked by `VariantSearch` when there is a query, else the filtered rows."""
    from vcf_pipeline.lib.search.hybrid import SearchRefused, VariantSearch

    where = form.where(table.schema)
    columns = present(RESULT_COLUMNS, table.schema)
    if form.q:
        try:
            result = VariantSearch(table, encode, nprobes, refine_factor).search(form.q, form.mode, limit=limit, where=where, columns=columns)
        except SearchRefused as exc:
            raise PageRefused(str(exc)) from None
        return SearchPage(result.rows, result.reading, result.note or "")
    if where:
        return SearchPage(table.search().where(where).select(columns).limit(limit).to_arrow().to_pylist())
    return SearchPage()


def search_page(table, encode, form: SearchForm, nprobes: int = 32, refine_factor: int = 20) -> SearchPage:
    """Page `form.page` of the results. Every page ranks the same `RANKED` rows and shows its slice:
    a hybrid ranking depends on how deep it is asked, so pages ranked to their own depth would
    repeat or skip rows (and at 1M rows ranking 1,000 costs what ranking 26 does, about 10 ms)."""
    found = search_rows(table, encode, form, RANKED, nprobes, refine_factor)
    start = PAGE_SIZE * (form.page - 1)
    return SearchPage(found.rows[start : start + PAGE_SIZE], found.reading, found.note, more=len(found.rows) > PAGE_SIZE * form.page)
