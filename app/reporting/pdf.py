"""PDFs from HTML templates under `templates/pdf/`, rendered with WeasyPrint.

WeasyPrint's own fetcher follows http(s) and file: URLs, so a URL that reaches a template (an
address someone typed, a logo setting) could make the server read its own files or call internal
services (GHSA-35jj-wx47-4w8r). Every render here goes through `StaticOnlyFetcher`, which serves
our own static files and data: URLs and refuses everything else, and logs each refusal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import render_template

if TYPE_CHECKING:
    from app.reporting.pdf_engine import StaticOnlyFetcher

# Templates name our static files relative to this made-up origin (".invalid" never resolves).
# The fetcher maps it onto app/static and never opens a network connection for it.
STATIC_BASE_URL = "https://static.pledgeline.invalid/"


class FetchRefused(ValueError):
    """A PDF asked for something outside our static files."""


def __getattr__(name: str) -> Any:
    # WeasyPrint (and its fonts and image libraries, ~27 MB) loads only when a PDF is made: a web
    # worker that never makes one never pays for it.
    if name == "StaticOnlyFetcher":
        from app.reporting.pdf_engine import StaticOnlyFetcher

        return StaticOnlyFetcher
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def html_to_pdf(html: str, *, fetcher: StaticOnlyFetcher | None = None) -> bytes:
    """Lay out an HTML document as a PDF, fetching only our own static files.

    Pass a `fetcher` to see afterwards what it served and refused.
    """
    from app.reporting import pdf_engine

    return pdf_engine.html_to_pdf(html, fetcher=fetcher)


def render_pdf(template: str, **context: Any) -> bytes:
    """Render `templates/<template>` with `context` and return the PDF's bytes."""
    return html_to_pdf(render_template(template, **context))
