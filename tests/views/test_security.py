"""Response headers on every GET, for every kind of visitor (plan H)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from tests.factories import ACTORS, PASSWORD, CampaignFactory, make_route_world
from tests.helpers import load_access_table, production_app, route_keys, route_url, sign_in

TABLE = load_access_table()
ONE_YEAR = 365 * 24 * 60 * 60
SAFE_REFERRER_POLICIES = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}


def csp_directives(response: TestResponse) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.request.path}: no Content-Security-Policy"
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in directives, f"{name} appears twice in the CSP"
        directives[name] = sources
    return directives


class _Inline(HTMLParser):
    """Collects what a strict CSP would block: scripts without our nonce, handlers, inline styles."""

    def __init__(self) -> None:
        super().__init__()
        self.script_nonces: list[str | None] = []  # nonce of each inline <script> (None: has src)
        self.blocked: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and not attributes.get("src"):
            self.script_nonces.append(attributes.get("nonce") or "")
        if tag == "script" and (attributes.get("src") or "").startswith(("data:", "javascript:")):
            self.blocked.append(f"<script src={attributes['src']!r}>")
        if tag == "style":
            self.blocked.append("<style> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.blocked.append(f"<{tag} {name}=…> event handler")
            if name == "style":
                self.blocked.append(f"<{tag} style={value!r}>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.blocked.append(f"<{tag} {name}={value!r}>")


FRAMABLE = ("/embed/campaigns/",)


def assert_strict_headers(response: TestResponse, *, signed_in: bool) -> None:
    where = f"{response.request.method} {response.request.full_path.rstrip('?')} (HTTP {response.status_code})"
    csp = csp_directives(response)
    policy = " ".join(" ".join([name, *sources]) for name, sources in csp.items())
    assert "'unsafe-inline'" not in policy, f"{where}: CSP allows unsafe-inline"
    assert "'unsafe-eval'" not in policy, f"{where}: CSP allows unsafe-eval"
    assert csp.get("object-src") == ["'none'"], f"{where}: object-src is {csp.get('object-src')}"
    assert csp.get("base-uri") in (["'self'"], ["'none'"]), f"{where}: base-uri is {csp.get('base-uri')}"
    if response.request.path.startswith(FRAMABLE):
        # The embeddable progress card, and only it, may be shown in a frame on any site.
        assert csp.get("frame-ancestors") == ["*"], f"{where}: frame-ancestors is {csp.get('frame-ancestors')}"
        assert "X-Frame-Options" not in response.headers, where
    else:
        assert csp.get("frame-ancestors") == ["'none'"], f"{where}: frame-ancestors is {csp.get('frame-ancestors')}"
        assert response.headers.get("X-Frame-Options") == "DENY", where
    scripts = csp.get("script-src") or csp.get("default-src") or []
    assert not {"*", "data:", "http:", "https:"} & set(scripts), f"{where}: script-src is too broad: {scripts}"
    nonces = [s[len("'nonce-") : -1] for s in scripts if s.startswith("'nonce-")]
    assert len(nonces) == 1, f"{where}: script-src should carry one nonce: {scripts}"
    assert len(nonces[0]) >= 16, f"{where}: the nonce is too short to be unguessable"

    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("Referrer-Policy") in SAFE_REFERRER_POLICIES, where
    if signed_in:
        assert "no-store" in response.headers.get("Cache-Control", ""), f"{where}: a signed-in page may be cached"

    if response.mimetype == "text/html":
        parser = _Inline()
        parser.feed(response.get_data(as_text=True))
        assert not parser.blocked, f"{where}: the CSP blocks {parser.blocked}"
        wrong = [n for n in parser.script_nonces if n != nonces[0]]
        assert not wrong, f"{where}: inline scripts without this response's nonce: {wrong}"


def _get_every_route(app: Flask, client, samples: dict[str, str]) -> list[TestResponse]:  # type: ignore[no-untyped-def]
    responses = []
    for key, rule, method in route_keys(app):
        if method != "GET":
            continue
        url = route_url(app, rule, TABLE["routes"].get(key, {}), TABLE, samples)
        response = client.get(url)
        response.get_data()  # read to the end, so a streamed download finishes before the next request
        responses.append(response)
    return responses


@pytest.mark.parametrize("actor", ACTORS)
def test_every_page_sends_strict_security_headers(app: Flask, actor: str) -> None:
    users, samples = make_route_world()
    client = app.test_client()
    if actor != "anonymous":
        assert sign_in(client, users[actor].email, PASSWORD).status_code == 302

    responses = _get_every_route(app, client, samples)
    responses += [client.get("/no-such-page"), client.get("/campaigns/no-such-campaign"), client.get("/api/v1/nope")]

    assert len(responses) >= 10
    for response in responses:
        assert_strict_headers(response, signed_in=actor != "anonymous")


def test_the_nonce_is_new_on_every_response(client) -> None:  # type: ignore[no-untyped-def]
    campaign = CampaignFactory()

    nonces = set()
    for _ in range(3):
        response = client.get(f"/campaigns/{campaign.slug}")
        (nonce,) = re.findall(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])
        assert f'nonce="{nonce}"' in response.get_data(as_text=True)  # the page's own inline script
        nonces.add(nonce)
    assert len(nonces) == 3


def test_production_sends_hsts_for_at_least_a_year(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    campaign = CampaignFactory()

    with production_app(monkeypatch, database_url) as app:
        client = app.test_client()
        responses = [
            client.get(url, base_url="https://pledgeline.example")
            for url in ("/", f"/campaigns/{campaign.slug}", "/account/sign-in", "/api/v1/campaigns", "/nope")
        ]

    for response in responses:
        hsts = response.headers.get("Strict-Transport-Security", "")
        match = re.search(r"max-age=(\d+)", hsts)
        assert match, f"{response.request.path}: no HSTS header"
        assert int(match[1]) >= ONE_YEAR
        assert_strict_headers(response, signed_in=False)
