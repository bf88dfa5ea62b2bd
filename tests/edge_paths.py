"""Spellings of the model-management paths, and which of them the applications would route.

The route models are written from the upstream sources (docs/UPSTREAM.md, "Edge paths"),
not from the product's constants, so a path dropped from the edge lists fails the tests:

- Open WebUI 0.9.6 runs under uvicorn 0.41.0, which percent-decodes the request path once
  (``urllib.parse.unquote``) and normalises nothing else; Starlette matches each route as a
  whole-path, case-sensitive regex (``{url_idx}`` is an int: ``[0-9]+``). A trailing slash
  gets a redirect to the bare path, which the client then requests through the edge again.
- Ollama 0.32.15 (gin 1.10.0 without raw-path routing) routes the decoded path, exact case.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote

# Open WebUI: backend/open_webui/routers/ollama.py under the /ollama prefix, and main.py.
WEBUI_MANAGEMENT = re.compile(
    r"/ollama/api/unload"
    r"|/ollama/api/(pull|push|create|copy|delete)(/[0-9]+)?"
    r"|/ollama/models/(download|upload)(/[0-9]+)?"
    r"|/api/models/unload"
)
# Ollama: server/routes.go.
OLLAMA_MANAGEMENT = re.compile(r"/api/(pull|push|create|copy|delete)|/api/blobs/[^/]+")

# One representative request per management route (the blob route needs a digest).
MANAGEMENT_REQUESTS: tuple[str, ...] = (
    *(f"/ollama/api/{name}" for name in ("pull", "push", "create", "copy", "delete", "unload")),
    "/ollama/api/pull/0",
    "/ollama/models/download",
    "/ollama/models/upload/1",
    "/api/models/unload",
    *(f"/api/{name}" for name in ("pull", "push", "create", "copy", "delete")),
    "/api/blobs/sha256:0123abcd",
)


def webui_routes(raw: str) -> bool:
    """Open WebUI would run a model-management handler for this raw request path."""
    return WEBUI_MANAGEMENT.fullmatch(unquote(raw)) is not None


def ollama_routes(raw: str) -> bool:
    """Ollama would run a model-management handler for this raw request path."""
    return OLLAMA_MANAGEMENT.fullmatch(unquote(raw)) is not None


def escape(ch: str, lower: bool = False) -> str:
    code = f"%{ord(ch):02X}"
    return code.lower() if lower else code


def spellings(path: str) -> Iterator[str]:
    """Every form of ``path`` this suite tries: as is, trailing slash, case changes, each
    character percent-escaped (upper- and lower-case hex), each slash as ``%2F``, ``//``,
    ``/./``, a backslash or ``/x/../``, a doubly escaped character, and everything but the
    leading slash escaped (a request target starts with a literal slash)."""
    yield path
    yield path + "/"
    yield path.upper()
    yield path.swapcase()
    yield "/" + path[1:2].upper() + path[2:]
    for i, ch in enumerate(path):
        head, tail = path[:i], path[i + 1 :]
        if ch == "/":
            yield head + "//" + tail
            yield head + "/./" + tail
            yield head + "/x/../" + tail
            if i > 0:  # a request target starts with a literal slash
                yield head + "%2F" + tail
                yield head + "%2f" + tail
                yield head + "\\" + tail
            continue
        yield head + escape(ch) + tail
        yield head + escape(ch, lower=True) + tail
        yield head + "%25" + escape(ch)[1:] + tail
    yield "/" + "".join(escape(ch) for ch in path[1:])


def all_spellings(paths: tuple[str, ...] = MANAGEMENT_REQUESTS) -> list[str]:
    return sorted({form for path in paths for form in spellings(path)})
