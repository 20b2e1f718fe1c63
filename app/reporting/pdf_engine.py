"""WeasyPrint itself, imported only when a PDF is made (see `reporting.pdf`)."""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from app.reporting.pdf import STATIC_BASE_URL, FetchRefused

log = logging.getLogger("app.reporting.pdf")


class StaticOnlyFetcher(URLFetcher):
    """Serves `STATIC_BASE_URL` from a static folder, and data: URLs; refuses file:, http(s): and the rest.

    A subclass, not a function: WeasyPrint 70 reads attributes of the fetcher it is given.
    """

    def __init__(self, static_folder: str | Path, **kwargs: Any) -> None:
        super().__init__(allowed_protocols=("data",), **kwargs)
        self.root = Path(static_folder).resolve()
        self.served: list[str] = []
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if url.startswith("data:"):
            return super().fetch(url, headers)  # urllib's data: handler, never the network
        if url.startswith(STATIC_BASE_URL):
            path = self._static_path(url)
            if path is not None:
                self.served.append(url)
                content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": content_type})
        self.refused.append(url)
        log.warning("PDF fetch refused: %s", url[:200])
        raise FetchRefused(f"Only Pledgeline's own static files may be used in a PDF, not {url[:200]}")

    def _static_path(self, url: str) -> Path | None:
        parts = urlsplit(url)
        relative = unquote(parts.path).lstrip("/")
        path = (self.root / relative).resolve()
        # resolve() follows "..", and symlinks, before the check: nothing outside the folder.
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path


def html_to_pdf(html: str, *, fetcher: StaticOnlyFetcher | None = None) -> bytes:
    """Lay out an HTML document as a PDF, fetching only our own static files."""
    fetcher = fetcher or StaticOnlyFetcher(current_app.static_folder or "app/static")
    document = HTML(string=html, base_url=STATIC_BASE_URL, url_fetcher=fetcher)
    pdf = document.write_pdf()
    assert pdf is not None  # noqa: S101 - write_pdf returns bytes when given no target
    return pdf
