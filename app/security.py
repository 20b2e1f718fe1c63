"""Who may use which route, safe redirects and the response headers every page gets.

Every view declares its access with one of the decorators below; the access test walks the URL
map and fails for a view that declares nothing, so no route can be added without saying who may
use it.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Mapping
from functools import lru_cache, wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, request
from flask_login import current_user
from werkzeug.datastructures import Headers
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import Map

from app.models import Role

F = TypeVar("F", bound=Callable[..., Any])

ACCESS_ATTRIBUTE = "_pledgeline_access"


def public(view: F) -> F:
    """Anyone may use this view, signed in or not."""
    setattr(view, ACCESS_ATTRIBUTE, ("public",))
    return view


def signed_in(view: F) -> F:
    """Any signed-in user; anonymous visitors are sent to sign in."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
        return view(*args, **kwargs)

    setattr(wrapped, ACCESS_ATTRIBUTE, ("signed_in",))
    return wrapped  # type: ignore[return-value]


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Only users with one of `roles`: anonymous visitors go to sign in, anyone else gets 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if not current_user.has_role(*roles):
                current_app.logger.warning(
                    "forbidden: user %s (%s) on %s", current_user.id, current_user.role, request.endpoint
                )
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapped, ACCESS_ATTRIBUTE, ("roles", *sorted(r.value for r in roles)))
        return wrapped  # type: ignore[return-value]

    return decorator


def council_officers_only(refusal: Callable[..., Any] | None = None) -> Callable[[F], F]:
    """Only officers of a council (users whose organisation is a council): anonymous visitors go to
    sign in, anyone else signed in gets 403 — `refusal(**view_args)`'s page if given, else the
    standard one. Which council a request may act for is the view's and its service's to check."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if not current_user.is_council_contact:
                current_app.logger.warning(
                    "forbidden: user %s is no council's officer, on %s", current_user.id, request.endpoint
                )
                if refusal is not None:
                    return refusal(*args, **kwargs)
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapped, ACCESS_ATTRIBUTE, ("council_officer",))
        return wrapped  # type: ignore[return-value]

    return decorator


def may_use(endpoint: str) -> bool:
    """Whether the current user may use a view, read from the view's own access declaration.

    Templates show a link only to those the route would let in (`{% if may_use("admin.report") %}`),
    so a link and its route cannot disagree when either changes.
    """
    declared = getattr(current_app.view_functions.get(endpoint), ACCESS_ATTRIBUTE, None)
    if declared == ("public",):
        return True
    if declared is None or not current_user.is_authenticated:
        return False
    if declared == ("signed_in",):
        return True
    if declared == ("council_officer",):
        return bool(current_user.is_council_contact)
    return declared[0] == "roles" and bool(current_user.has_role(*(Role(name) for name in declared[1:])))


def is_safe_next(target: str | None) -> bool:
    """True only for a relative path on this site: "/account", never "//evil.com" or "https:x"."""
    if not target or not isinstance(target, str):
        return False
    if any(ch in target for ch in "\\\r\n\t\x00") or not target.startswith("/") or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str) -> str:
    return target if target is not None and is_safe_next(target) else default


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def csp_nonce() -> str:
    """This request's CSP nonce (made on first use)."""
    if "csp_nonce" not in g:
        g.csp_nonce = new_nonce()
    return str(g.csp_nonce)


_NONCE_SLOT = "\x00"
# Set on every response unless the view set its own.
_FIXED_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "DENY"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)


def allow_framing() -> None:
    """Let this response be shown in a frame on any site. Only the embeddable progress card does
    this: it has no form and no script, so there is nothing to trick a visitor into pressing."""
    g.allow_framing = True


@lru_cache(maxsize=8)
def _policy(stripe_js: str, stripe_api: str, framing: bool = False) -> tuple[str, str]:
    """The Content-Security-Policy before and after its nonce, built once per pair of Stripe origins."""
    policy = {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{_NONCE_SLOT}' {stripe_js}",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": f"'self' {stripe_api}",
        "frame-src": stripe_js,
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "*" if framing else "'none'",
    }
    before, _, after = "; ".join(f"{k} {v}" for k, v in policy.items()).partition(_NONCE_SLOT)
    return before, after


def may_carry_login(cookies: Mapping[str, str], config: Mapping[str, Any]) -> bool:
    """Whether a request with these cookies could have a signed-in user or a session at all: only
    with the session cookie or the remember-me cookie (Flask-Login has no other way in here)."""
    return config["SESSION_COOKIE_NAME"] in cookies or config.get("REMEMBER_COOKIE_NAME", "remember_token") in cookies


def is_signed_in() -> bool:
    """Whether someone is signed in, as `current_user.is_authenticated` says.

    A request that brought neither the session cookie nor the remember-me cookie, and in which
    nobody signed in (login_user keeps the user in `g._login_user`), cannot have a signed-in
    user, so it is answered without asking Flask-Login to load one (most anonymous page views).
    """
    if "_login_user" not in g and not may_carry_login(request.cookies, current_app.config):
        return False
    return bool(current_user.is_authenticated)


def add_security_headers(
    headers: Headers, config: Mapping[str, Any], nonce: str, *, signed_in: bool, framing: bool = False
) -> None:
    """The headers every response carries; any the view set itself are kept. Every response
    forbids framing unless `framing` (see `allow_framing`)."""
    present = {name.lower() for name, _value in headers}
    if framing:
        present.add("x-frame-options")  # frame-ancestors in the policy says who may frame it
    if "content-security-policy" not in present:
        before, after = _policy(
            config.get("STRIPE_JS_ORIGIN", "https://js.stripe.com"),
            config.get("STRIPE_API_ORIGIN", "https://api.stripe.com"),
            framing,
        )
        headers["Content-Security-Policy"] = before + nonce + after
    for name, value in _FIXED_HEADERS:
        if name.lower() not in present:
            headers[name] = value
    if config.get("HSTS") and "strict-transport-security" not in present:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if signed_in:
        headers["Cache-Control"] = "no-store"


def set_security_headers(response: Response) -> Response:
    add_security_headers(
        response.headers,
        current_app.config,
        csp_nonce(),
        signed_in=is_signed_in(),
        framing=bool(g.get("allow_framing")),
    )
    if request.view_args and "token" in request.view_args:
        # A page opened by a signed link: keep it out of every cache, and its address (which
        # holds the token) out of the Referer header of anything the page loads or links to.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


class RedactTokens(logging.Filter):
    """Replaces the token in the path of every signed link with "[token]" in log lines.

    Access logs (the development server's, gunicorn's) and Flask's "Exception on <path>" would
    otherwise keep working links for anyone who reads the logs. The paths come from the app's
    own URL rules that take a `token`, so a new signed-link route is covered without a change here.
    """

    def __init__(self) -> None:
        super().__init__()
        self.patterns: list[re.Pattern[str]] = []

    def learn(self, url_map: Map) -> None:
        patterns = []
        for rule in url_map.iter_rules():
            if "token" not in rule.arguments:
                continue
            regex = ""
            for piece in re.split(r"(<[^>]+>)", rule.rule):
                if not piece.startswith("<"):
                    regex += re.escape(piece)
                elif piece.rstrip(">").rpartition(":")[2].lstrip("<") == "token":
                    regex += r"(?P<token>[^/?#\s\"]+?)"
                else:
                    regex += r"[^/?#\s\"]+?"
            patterns.append(re.compile(regex + r"(?=$|[/?#\s\"])"))
        self.patterns = patterns

    def redact(self, text: str) -> str:
        for pattern in self.patterns:
            text = pattern.sub(_without_token, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.patterns:
            message = record.getMessage()
            redacted = self.redact(message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


def _without_token(match: re.Match[str]) -> str:
    start, end = match.start("token") - match.start(), match.end("token") - match.start()
    return match[0][:start] + "[token]" + match[0][end:]


token_filter = RedactTokens()
LOGGERS_WITH_PATHS = ("werkzeug", "gunicorn.access", "gunicorn.error")


def init_app(app: Flask) -> None:
    app.after_request(set_security_headers)
    for name in (*LOGGERS_WITH_PATHS, app.logger.name):
        logging.getLogger(name).addFilter(token_filter)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["may_use"] = may_use
    proxies = int(app.config.get("TRUSTED_PROXY_COUNT") or 0)
    if proxies:
        # Behind a load balancer every request arrives from its address, and one person's failed
        # sign-ins would lock everyone out: trust exactly that many X-Forwarded-* hops, no more.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
