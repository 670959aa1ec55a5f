"""`vcf-pipeline serve`: the explorer's routes (Starlette, server-side Jinja2 templates, a little JS).

Read-only: every route is a GET, and the stores are opened for reading (Kuzu read-only, waiting a
little while a run writes). Pages answer 400 with the reason for input they refuse, and a plain page,
not a traceback, when the store is empty, missing or busy."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from vcf_pipeline.explorer.pages import (
    PAGE_SIZE,
    RANKED,
    RESULT_COLUMNS,
    PageRefused,
    SearchForm,
    search_page,
    search_rows,
)
from vcf_pipeline.lib.query.file_summary import IMPACTS
from vcf_pipeline.lib.stores.variant_tables import present

HERE = Path(__file__).resolve().parent
_GRAPH_WAIT_S = 2.0


class Explorer:
    """The app's state: the home's settings and stores, the embedder once a search needs it."""

    def __init__(self, settings, dagster_url: str = ""):
        self.settings, self.dagster_url = settings, dagster_url.rstrip("/")
        self.store, self.graph = settings.variant_store(), settings.graph_store()
        self._encode = None
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
        self.templates.filters["q"] = lambda value: quote(str(value), safe="")
        self.templates.filters["cell"] = _cell
        self.templates.globals.update(impacts=IMPACTS, page_size=PAGE_SIZE, dagster_url=self.dagster_url)

    def encode(self, texts):
        if self._encode is None:
            self._encode = self.settings.embedder().encode
        return self._encode(texts)

    def render(self, name: str, status: int = 200, **context) -> HTMLResponse:
        started = context.pop("started", None)
        html = self.templates.get_template(name).render(**context)
        headers = {"Server-Timing": f"app;dur={(time.perf_counter() - started) * 1000:.1f}"} if started else {}
        return HTMLResponse(html, status_code=status, headers=headers)

    def message(self, title: str, text: str, status: int = 200) -> HTMLResponse:
        return self.render("message.html", status, title=title, text=text)

    def variants(self):
        from vcf_pipeline.lib.stores.variant_tables import VARIANTS

        return self.store.open_table(VARIANTS) if VARIANTS in self.store.table_names() else None


def _cell(value) -> str:
    """A value as a table shows it: floats to 4 significant digits, lists joined, nothing for null."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _empty(app: Explorer) -> HTMLResponse:
    return app.message("Nothing ingested yet", f"The store at {app.store.uri} holds no variants. Drop VCF files into a watched folder, "
                       "or run vcf-pipeline ingest.")  # fmt: skip


def search(request: Request) -> Response:
    app: Explorer = request.app.state.explorer
    started = time.perf_counter()
    table = app.variants()
    if table is None:
        return _empty(app)
    try:
        form = SearchForm.from_query(request.query_params)
        page = search_page(table, app.encode, form, app.store.policy.nprobes, app.store.policy.refine_factor) if not form.empty else None
    except PageRefused as exc:
        return app.render("search.html", 400, form=SearchForm(), error=str(exc), builds=_builds(app), started=started)
    params = {k: v for k, v in vars(form).items() if v and k != "page"}
    return app.render("search.html", form=form, page=page, params=params, columns=present(RESULT_COLUMNS, table.schema), builds=_builds(app),
                      export_url="/export?" + urlencode(params), started=started)  # fmt: skip


def export(request: Request) -> Response:
    """The search's rows as CSV (every page, up to the pages a search ranks), as `vcf-pipeline search|filter` finds them."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    app: Explorer = request.app.state.explorer
    table = app.variants()
    if table is None:
        return _empty(app)
    try:
        form = SearchForm.from_query(request.query_params)
        rows = search_rows(table, app.encode, form, RANKED, app.store.policy.nprobes, app.store.policy.refine_factor).rows
    except PageRefused as exc:
        return app.message("Export refused", str(exc), 400)
    schema = pa.schema([table.schema.field(c) for c in present(RESULT_COLUMNS, table.schema)])
    data = pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema=schema)

    def body():
        sink = pa.BufferOutputStream()
        pcsv.write_csv(data, sink)
        yield sink.getvalue().to_pybytes()

    return StreamingResponse(body(), media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="variants.csv"'})


def _builds(app: Explorer) -> list[str]:
    from vcf_pipeline.lib.vcf.identity import ASSEMBLIES

    return list(ASSEMBLIES)


def variant(request: Request) -> Response:
    from vcf_pipeline.lib.query.variant_details import variant_details

    app: Explorer = request.app.state.explorer
    started = time.perf_counter()
    if app.variants() is None:
        return _empty(app)
    variant_id = request.path_params["variant_id"]
    details = variant_details(app.store, app.graph, variant_id, _GRAPH_WAIT_S)
    if details is None:
        return app.message("No such variant", f"The store has no variant {variant_id}.", 404)
    return app.render("variant.html", v=details, started=started)


def gene(request: Request) -> Response:
    import pyarrow as pa

    from vcf_pipeline.lib.search.selection import quoted

    app: Explorer = request.app.state.explorer
    started = time.perf_counter()
    table = app.variants()
    if table is None:
        return _empty(app)
    symbol = request.path_params["symbol"]
    columns = present(RESULT_COLUMNS, table.schema)
    rows = table.search().where(f"gene_symbol = {quoted(symbol)}").select(columns).limit(5000).to_arrow()
    if not rows.num_rows:
        return app.message("No such gene", f"No variant in the store is annotated to {symbol}.", 404)
    by_impact = _counts(rows["impact"].to_pylist())
    by_significance = _counts(rows["clinical_significance"].to_pylist())
    ordered = rows.sort_by([("chrom", "ascending"), ("pos", "ascending")]).to_pylist()
    return app.render("gene.html", symbol=symbol, rows=ordered, columns=columns, by_impact=by_impact,
                      by_significance=by_significance, started=started, count=pa.compute.count(rows["variant_id"]).as_py())  # fmt: skip


def _counts(values) -> dict[str, int]:
    counted: dict[str, int] = {}
    for value in values:
        counted[value or "none"] = counted.get(value or "none", 0) + 1
    return dict(sorted(counted.items(), key=lambda kv: -kv[1]))


def sample(request: Request) -> Response:
    from vcf_pipeline.explorer.sample_page import sample_view

    app: Explorer = request.app.state.explorer
    started = time.perf_counter()
    name = request.path_params["name"]
    question = request.query_params.get("question", "")
    try:
        view = sample_view(app, name, question)
    except PageRefused as exc:
        return app.message("Refused", str(exc), 400)
    except LookupError as exc:
        return app.message("No such sample", str(exc), 404)
    return app.render("sample.html", s=view, started=started)


def file_page(request: Request) -> Response:
    from vcf_pipeline.lib.query.file_summary import summarise_file

    app: Explorer = request.app.state.explorer
    started = time.perf_counter()
    key = request.path_params["key"]
    summary = summarise_file(app.store, key)
    if not summary.variants:
        return app.message("No such file", f"No ingested file has the partition key {key}.", 404)
    runs = f"{app.dagster_url}/runs?q%5B0%5D=tag%3Adagster%2Fpartition%3D{quote(key, safe='')}" if app.dagster_url else ""
    return app.render("file.html", f=summary, runs_url=runs, started=started)


def folders(request: Request) -> Response:
    from vcf_pipeline.explorer.folder_page import folder_view

    app: Explorer = request.app.state.explorer
    started = time.perf_counter()
    return app.render("folders.html", view=folder_view(app.settings), started=started)


def _failed(request: Request, exc: Exception) -> HTMLResponse:
    """Any failure as a page saying what happened (a writer holding the graph, a store gone), never a traceback."""
    from vcf_pipeline.lib.stores.graph_store import GraphBusyError

    app: Explorer = request.app.state.explorer
    if isinstance(exc, GraphBusyError):
        return app.message("The graph is busy", "A pipeline run is writing the graph; try again in a moment.", 503)
    if isinstance(exc, FileNotFoundError):
        return app.message("Nothing here yet", str(exc), 404)
    return app.message("Something failed", f"{type(exc).__name__}: {str(exc)[:300]}", 500)


def make_app(settings, dagster_url: str = "") -> Starlette:
    routes = [
        Route("/", search),
        Route("/export", export),
        Route("/variant/{variant_id:path}", variant),
        Route("/gene/{symbol}", gene),
        Route("/sample/{name:path}", sample),
        Route("/file/{key:path}", file_page),
        Route("/folders", folders),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={Exception: _failed})
    app.state.explorer = Explorer(settings, dagster_url)
    return app
