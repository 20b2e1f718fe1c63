"""The public campaign page and the campaign API, served from a cache keyed by what they show.

Every request still reads the campaign's stamp (`listing.stamp`: one small query, on a
connection kept for it), and the cached copy is looked up under a key made from it, so whatever
any process or instance committed shows on the very next request; only the rendering is saved.
A new pledge, payment, refund, release or offer moves `totals_version`; a new story, update or
impact figure moves the stamp's content part; the days left and whether pledges are open are
in the key too.

A copy is filed under the stamp read in the same transaction as the rendering, so it is never
filed under a newer version than the one it shows (at worst a request gets a copy newer than the
stamp it read, which is never stale).

Only anonymous visitors with no message waiting get the cached page: it is the page everyone
sees. Signed-in users (whose header names their areas) get it rendered as before. The page is
rendered with a random placeholder where the CSP nonce goes, and each response gets its own
nonce put in its place, so the nonce in the page always equals the one in that response's
Content-Security-Policy header. For the same reason the page has no ETag: a 304 would pair the
browser's stored page (its old nonce) with the new header's nonce. The API, which has no
nonce, has one.

Copies live in each worker's memory (a small LRU) and, when REDIS_URL is set, in Redis too, so
one render serves every worker and instance. Redis is only asked on a miss in memory, and a
Redis failure is a miss, never an error page. `FastPath` answers cookie-less visitors from the
cache before Flask sees the request; the views answer everyone else and fill the cache.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, g, request, session
from werkzeug.datastructures import Headers
from werkzeug.http import parse_cookie
from werkzeug.wrappers import Response

from app.campaigns import listing
from app.models import utcnow
from app.security import add_security_headers, csp_nonce, is_signed_in, may_carry_login, new_nonce

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)

EXTENSION = "pledgeline.campaign_cache"
MEMORY_ENTRIES = 256
REDIS_TTL_SECONDS = 24 * 60 * 60
# secrets.token_urlsafe(18) is 24 characters, the same as a real nonce.
NONCE_BYTES = 18
PAGE, API = b"P", b"J"


@dataclass(frozen=True)
class Entry:
    """One rendered body: the page with its nonce placeholder, or the API's JSON."""

    kind: bytes
    body: bytes
    placeholder: bytes = b""

    def encode(self) -> bytes:
        return self.kind + self.placeholder + self.body

    @classmethod
    def decode(cls, data: bytes) -> Entry:
        kind, rest = data[:1], data[1:]
        if kind == PAGE:
            size = len(secrets.token_urlsafe(NONCE_BYTES))
            return cls(PAGE, rest[size:], rest[:size])
        return cls(API, rest)


class Memory:
    """A small least-recently-used map; old versions fall out as new ones come in."""

    def __init__(self, size: int = MEMORY_ENTRIES) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Entry] = OrderedDict()
        self._lock = threading.Lock()  # gunicorn's threaded workers share one process

    def get(self, key: Hashable) -> Entry | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                self._items.move_to_end(key)
            return entry

    def put(self, key: Hashable, entry: Entry) -> None:
        with self._lock:
            self._items[key] = entry
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class Shared:
    """Copies in Redis, shared by every worker and instance; connects on first use.

    Redis failing is a miss, never an error; after a failure it is left alone for a while, so
    an unreachable Redis does not cost a connection timeout on every miss.
    """

    RETRY_AFTER_SECONDS = 30.0

    def __init__(self, url: str) -> None:
        self.url = url
        self._client: Any = None
        self._prefix: str | None = None
        self._paused_until = 0.0

    def _redis(self) -> Any:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return self._client

    def _name(self, key: Hashable) -> str:
        if self._prefix is None:
            # Instances running different code must not share copies: the code is in the name.
            self._prefix = f"pledgeline:campaign:{code_version()}:"
        return self._prefix + hashlib.sha256(repr(key).encode()).hexdigest()

    def _call(self, what: str, command: Callable[[Any], Any]) -> Any:
        from redis import RedisError

        if time.monotonic() < self._paused_until:
            return None
        try:
            return command(self._redis())
        except (RedisError, OSError) as error:
            self._paused_until = time.monotonic() + self.RETRY_AFTER_SECONDS
            logger.warning(
                "campaign cache: Redis failed to %s (%s); rendering without it for %.0f s",
                what,
                error,
                self.RETRY_AFTER_SECONDS,
            )
            return None

    def get(self, key: Hashable) -> Entry | None:
        data = self._call("read", lambda client: client.get(self._name(key)))
        return Entry.decode(data) if data else None

    def put(self, key: Hashable, entry: Entry) -> None:
        self._call("store", lambda client: client.set(self._name(key), entry.encode(), ex=REDIS_TTL_SECONDS))


@functools.cache
def code_version() -> str:
    """A digest of the app's code and templates (once per process), so that a copy rendered by
    other code, during a rolling deploy, is never used."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".html") and p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class CampaignCache:
    def __init__(self, redis_url: str = "") -> None:
        self.memory = Memory()
        self.shared = Shared(redis_url) if redis_url else None

    def get(self, key: Hashable) -> Entry | None:
        entry = self.memory.get(key)
        if entry is None and self.shared is not None:
            entry = self.shared.get(key)
            if entry is not None:
                self.memory.put(key, entry)
        return entry

    def put(self, key: Hashable, entry: Entry) -> None:
        self.memory.put(key, entry)
        if self.shared is not None:
            self.shared.put(key, entry)


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = CampaignCache(app.config.get("REDIS_URL") or "")
    app.wsgi_app = FastPath(app, app.wsgi_app)  # type: ignore[method-assign]


def store() -> CampaignCache:
    cache: CampaignCache = current_app.extensions[EXTENSION]
    return cache


# --- Keys ------------------------------------------------------------------------------------


def page_key(stamp: listing.Stamp) -> tuple[Hashable, ...]:
    now = utcnow()
    return (
        "page",
        *stamp.row,
        *stamp.content,
        listing.days_left(stamp, now),
        now >= stamp.opens_at,  # with the next one and the status: whether pledges are taken
        now >= stamp.closes_at,
    )


def api_key(stamp: listing.Stamp) -> tuple[Hashable, ...]:
    return ("api", *stamp.row)


def etag_for(key: tuple[Hashable, ...]) -> str:
    return hashlib.sha256(repr(key).encode()).hexdigest()[:32]


# --- Serving ---------------------------------------------------------------------------------


def is_anonymous_visitor() -> bool:
    """Nobody is signed in and no message is waiting to be shown: the page everyone sees."""
    return not is_signed_in() and "_flashes" not in session


def _page_response(entry: Entry, nonce: str) -> Response:
    response = Response(entry.body.replace(entry.placeholder, nonce.encode()), mimetype="text/html")
    # Shared caches must ask again every time (the totals move), and signed-in users see another header.
    response.headers["Cache-Control"] = "no-cache"
    response.vary.add("Cookie")
    return response


# The read-only API may be read by any site's pages, and kept for a few seconds by browsers and
# shared caches; after that a request with the ETag gets 304 until something changes.
API_CACHE_CONTROL = "public, max-age=10"


def open_to_any_site(headers: Headers) -> None:
    """What lets another site's script read an API answer (no cookies are sent or needed)."""
    headers["Access-Control-Allow-Origin"] = "*"
    headers["Access-Control-Expose-Headers"] = "ETag"


def json_response(body: bytes, etag: str, environ: WSGIEnvironment) -> Response:
    """A public API answer: its ETag, a short cache lifetime, open to any site, and 304 Not
    Modified for a request that already holds this ETag (there is no Last-Modified)."""
    response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = API_CACHE_CONTROL
    open_to_any_site(response.headers)
    return response.make_conditional(environ) if environ.get("HTTP_IF_NONE_MATCH") else response


def _api_response(entry: Entry, key: tuple[Hashable, ...], environ: WSGIEnvironment) -> Response:
    return json_response(entry.body, etag_for(key), environ)


Render = Callable[[], "tuple[listing.Stamp, str]"]


def page(stamp: listing.Stamp, render: Render) -> Response:
    """The campaign page for an anonymous visitor, rendered at most once per version.

    `render` reads the stamp in its own transaction first and returns it with the HTML.
    """
    cache = store()
    entry = cache.get(page_key(stamp))
    if entry is None:
        placeholder = secrets.token_urlsafe(NONCE_BYTES)
        real = g.pop("csp_nonce", None)
        g.csp_nonce = placeholder
        try:
            shown, html = render()
        finally:
            g.pop("csp_nonce", None)
            if real is not None:
                g.csp_nonce = real
        entry = Entry(PAGE, html.encode(), placeholder.encode())
        # A page that wrote to the session (a CSRF token, say) is someone's own: never shared.
        if not session.modified:
            cache.put(page_key(shown), entry)
    return _page_response(entry, csp_nonce())


def api(stamp: listing.Stamp, render: Callable[[], tuple[listing.Stamp, bytes]]) -> Response:
    """The campaign's JSON, rendered at most once per version, with an ETag of that version;
    a request that already holds it gets 304 Not Modified."""
    cache = store()
    key = api_key(stamp)
    entry = cache.get(key)
    if entry is None:
        shown, body = render()
        key = api_key(shown)
        entry = Entry(API, body)
        cache.put(key, entry)
    return _api_response(entry, key, request.environ)


# The routes the fast path answers; slugs as `campaigns` makes them (anything else goes to Flask).
FAST_PATHS = re.compile(r"/(campaigns|api/v1/campaigns)/([a-z0-9][a-z0-9-]{0,79})")


class FastPath:
    """WSGI middleware: a cached copy for a cookie-less visitor, without Flask's request machinery.

    A shared campaign page is mostly fetched by people with no cookies at all. For a GET or HEAD
    of the page or the API that carries neither the session nor the remember-me cookie (so nobody
    is signed in and no message waits), it reads the stamp and, if a copy of that version is
    cached, answers with it; everything else, every miss included, goes on to Flask, which
    renders and caches. That saves Flask's request context, session, sign-in check and hooks,
    which cost more than the rest of a cached answer. The answer is the one Flask gives: the
    same security headers (`security.add_security_headers`, with a fresh nonce) and cache
    headers, and the API's ETag and 304. Neither view has a rate limit to skip (both are
    exempt), and CSRF checks only apply to writes.
    """

    def __init__(self, app: Flask, wsgi_app: WSGIApplication) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        response = None
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            match = FAST_PATHS.fullmatch(environ.get("PATH_INFO") or "")
            if match and not may_carry_login(parse_cookie(environ), self.app.config):
                response = self._cached(environ, is_page=match[1] == "campaigns", slug=match[2])
        if response is None:
            return self.wsgi_app(environ, start_response)
        return response(environ, start_response)

    def _cached(self, environ: WSGIEnvironment, *, is_page: bool, slug: str) -> Response | None:
        try:
            with self.app.app_context():
                stamp = listing.stamp(slug)
                if stamp is None:
                    return None  # Flask answers with its 404 page
                key = page_key(stamp) if is_page else api_key(stamp)
                entry = store().get(key)
        except Exception:
            logger.debug("campaign cache: fast path failed, passing the request to Flask", exc_info=True)
            return None
        if entry is None:
            return None
        nonce = new_nonce()
        response = _page_response(entry, nonce) if is_page else _api_response(entry, key, environ)
        add_security_headers(response.headers, self.app.config, nonce, signed_in=False)
        return response
