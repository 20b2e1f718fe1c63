"""Who may use which route, safe redirects and the response headers every page gets.

Every view declares its access with one of the decorators below; the access test walks the URL
map and fails for a view that declares nothing, so no route can be added without saying who may
use it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from functools import lru_cache, wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, request
from flask_login import current_user
from werkzeug.datastructures import Headers
from werkzeug.middleware.proxy_fix import ProxyFix

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


@lru_cache(maxsize=8)
def _policy(stripe_js: str, stripe_api: str) -> tuple[str, str]:
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
        "frame-ancestors": "'none'",
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


def add_security_headers(headers: Headers, config: Mapping[str, Any], nonce: str, *, signed_in: bool) -> None:
    """The headers every response carries; any the view set itself are kept."""
    present = {name.lower() for name, _value in headers}
    if "content-security-policy" not in present:
        before, after = _policy(
            config.get("STRIPE_JS_ORIGIN", "https://js.stripe.com"),
            config.get("STRIPE_API_ORIGIN", "https://api.stripe.com"),
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
    add_security_headers(response.headers, current_app.config, csp_nonce(), signed_in=is_signed_in())
    return response


def init_app(app: Flask) -> None:
    app.after_request(set_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["may_use"] = may_use
    proxies = int(app.config.get("TRUSTED_PROXY_COUNT") or 0)
    if proxies:
        # Behind a load balancer every request arrives from its address, and one person's failed
        # sign-ins would lock everyone out: trust exactly that many X-Forwarded-* hops, no more.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
