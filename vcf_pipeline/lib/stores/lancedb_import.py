"""`import lancedb`, without paying for the REST client of Lance namespaces at start-up.

`lancedb` imports `lance_namespace`, whose generated REST client package builds a pydantic validator
for every API method when imported: about 0.6 s of a 1.4 s `import lancedb` on 2 cores, in every
command, though only a LanceDB namespace server (which we never connect to) uses those methods.
The package is registered here without running its `__init__`; its submodules (the request models
`lancedb` imports) load as usual, and the first attribute asked of the package itself runs the
real `__init__`, so nothing is missing, only deferred."""

from __future__ import annotations

import importlib.util
import sys

_REST_CLIENT = "lance_namespace_urllib3_client"


def _defer_rest_client() -> None:
    if _REST_CLIENT in sys.modules or "lancedb" in sys.modules:
        return
    spec = importlib.util.find_spec(_REST_CLIENT)
    if spec is None or spec.loader is None:
        return
    package = importlib.util.module_from_spec(spec)

    def load_on_first_use(name: str):
        del package.__getattr__
        spec.loader.exec_module(package)
        return getattr(package, name)

    package.__getattr__ = load_on_first_use
    sys.modules[_REST_CLIENT] = package


_defer_rest_client()

import lancedb  # noqa: E402  (after the deferral above)

__all__ = ["lancedb"]
