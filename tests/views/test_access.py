"""Who may use which route: the matrix in tests/data/access.toml, checked request by request (plan G)."""

from __future__ import annotations

from itertools import count
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app import links
from app.extensions import csrf, db
from app.models import PledgeStatus, User
from app.payments import settle
from app.security import ACCESS_ATTRIBUTE
from tests.factories import ACTORS, PASSWORD, CampaignFactory, make_pledge, make_route_world
from tests.helpers import (
    ACCESS_OUTCOMES,
    ACCESS_TABLE_PATH,
    csrf_token,
    load_access_table,
    route_keys,
    route_url,
    sign_in,
)

TABLE = load_access_table()
ROUTES: dict[str, dict[str, object]] = TABLE.get("routes", {})
SESSION_COOKIE = "pledgeline_session"
CSRF_REFUSAL = "The form had expired or was sent from somewhere else"
# The one view that may take a POST without our CSRF token: Stripe signs its webhooks instead.
CSRF_EXEMPT_ALLOWED = {"webhooks.stripe"}
ROW_KEYS = {*ACTORS, "args", "form"}
# Rows for these end the session they are sent with: each actor signs in again after them.
SESSION_ENDING = {"account.sign_out", "account.sign_out_everywhere"}


def _route(key: str) -> str:
    """ "GET pledges.cancel (another address's pledge)" -> "GET pledges.cancel": the route a row is for."""
    return key.split(" (", 1)[0]


_addresses = count(1)


def _new_address() -> str:
    """A different client address per request, so rate limits on forms do not skew the matrix."""
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def _suggested_row(key: str, declared: tuple[str, ...] | None) -> str:
    if declared == ("public",):
        outcomes = dict.fromkeys(ACTORS, "ok")
    elif declared == ("signed_in",):
        outcomes = {**dict.fromkeys(ACTORS, "ok"), "anonymous": "signin"}
    elif declared and declared[0] == "roles":
        outcomes = {a: ("ok" if a in declared[1:] else "403") for a in ACTORS}
        outcomes["anonymous"] = "signin"
    else:
        outcomes = dict.fromkeys(ACTORS, "?")
    cells = ", ".join(f'{actor} = "{outcome}"' for actor, outcome in outcomes.items())
    return f'"{key}" = {{ {cells} }}'


def test_every_route_has_a_row_in_the_access_table(app: Flask) -> None:
    served = {key: rule for key, rule, _ in route_keys(app)}
    missing = [key for key in served if key not in ROUTES]
    stale = [key for key in ROUTES if _route(key) not in served]

    problems = []
    if missing:
        lines = [
            _suggested_row(key, getattr(app.view_functions[served[key].endpoint], ACCESS_ATTRIBUTE, None))
            for key in missing
        ]
        problems.append(
            f"These routes have no row in {ACCESS_TABLE_PATH.relative_to(ACCESS_TABLE_PATH.parents[2])}. "
            "Add one under [routes] for each, saying what each actor should get "
            '("ok", "signin", "403" or "404"); this is a starting point from the view\'s decorator, '
            "check it against what you intend:\n  " + "\n  ".join(lines)
        )
    if stale:
        problems.append(
            "These rows in tests/data/access.toml name routes the app no longer serves; remove them:\n  "
            + "\n  ".join(stale)
        )
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize("key", sorted(ROUTES))
def test_each_row_gives_every_actor_a_known_outcome(key: str) -> None:
    row = ROUTES[key]
    unknown = set(row) - ROW_KEYS
    assert not unknown, f'{key}: unknown keys {sorted(unknown)} (allowed: actors, "args", "form")'
    for actor in ACTORS:
        assert row.get(actor) in ACCESS_OUTCOMES, (
            f"{key}: {actor} = {row.get(actor)!r}; use one of {', '.join(ACCESS_OUTCOMES)}"
        )


def test_every_view_declares_who_may_use_it(app: Flask) -> None:
    undeclared = sorted(
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and getattr(view, ACCESS_ATTRIBUTE, None) is None
    )
    assert not undeclared, (
        f"Views with no access declaration: {undeclared}. Decorate each with @public, @signed_in or "
        "@roles_required(...) from app.security (below the route decorator)."
    )


def test_the_table_agrees_with_each_views_declaration(app: Flask) -> None:
    """A public view is open to anonymous visitors; anything else sends them to sign in."""
    disagreements = []
    for key, rule, _ in route_keys(app):
        declared = getattr(app.view_functions[rule.endpoint], ACCESS_ATTRIBUTE, None)
        row = ROUTES.get(key)
        if declared is None or row is None:
            continue  # reported by the tests above
        anonymous = row["anonymous"]
        if declared == ("public",) and anonymous == "signin":
            disagreements.append(f"{key} is declared @public but the table sends anonymous visitors to sign in")
        if declared != ("public",) and anonymous != "signin":
            disagreements.append(f"{key} is declared {declared} but the table gives anonymous visitors {anonymous!r}")
    assert not disagreements, "\n".join(disagreements)


def _outcome(response: TestResponse) -> str:
    if response.status_code in (301, 302, 303, 307, 308):
        return "signin" if urlsplit(response.location).path == "/account/sign-in" else "ok"
    if response.status_code in (401, 403, 404, 405, 429) or (
        response.status_code >= 500 and response.status_code != 503
    ):
        return str(response.status_code)
    if response.status_code == 400 and CSRF_REFUSAL in response.get_data(as_text=True):
        return "csrf refused (the test's token was not accepted)"
    return "ok"


def _signed_in_cookies(app: Flask, users: dict[str, User]) -> dict[str, str]:
    cookies = {}
    for actor, user in users.items():
        client = app.test_client()
        response = sign_in(client, user.email, PASSWORD)
        assert response.status_code == 302, f"{actor} could not sign in"
        cookie = client.get_cookie(SESSION_COOKIE)
        assert cookie is not None
        cookies[actor] = cookie.value
    return cookies


def _client_for(app: Flask, actor: str, cookies: dict[str, str]) -> FlaskClient:
    client = app.test_client()
    if actor != "anonymous":
        client.set_cookie(SESSION_COOKIE, cookies[actor])
    return client


def _request(
    app: Flask, actor: str, cookies: dict[str, str], method: str, url: str, form: dict[str, str]
) -> TestResponse:
    client = _client_for(app, actor, cookies)
    environ = {"REMOTE_ADDR": _new_address()}
    if method == "GET":
        response = client.get(url, environ_base=environ)
    else:
        token = csrf_token(client, "/account/sign-in" if actor == "anonymous" else "/account/")
        response = client.open(url, method=method, data={**form, "csrf_token": token}, environ_base=environ)
    response.get_data()  # read the whole body, as a browser would, so a streamed download finishes here
    return response


def test_each_actor_gets_what_the_access_table_says(app: Flask) -> None:
    users, samples = make_route_world()
    cookies = _signed_in_cookies(app, users)
    served = {key: (rule, method) for key, rule, method in route_keys(app)}

    mismatches = []
    for key in sorted(ROUTES, key=lambda k: (_route(k) in {f"POST {e}" for e in SESSION_ENDING}, k)):
        if _route(key) not in served:
            continue  # reported by test_every_route_has_a_row_in_the_access_table
        row = ROUTES[key]
        rule, method = served[_route(key)]
        url = route_url(app, rule, row, TABLE, samples)
        form = {name: str(value).format(**samples) for name, value in dict(row.get("form", {})).items()}
        for actor in ACTORS:
            try:
                response = _request(app, actor, cookies, method, url, form)
            except Exception as error:  # noqa: BLE001 - report every crash, not just the first
                db.session.rollback()
                mismatches.append(f"{method} {url} ({rule.endpoint}) as {actor}: crashed with {error!r}")
                continue
            got = _outcome(response)
            if got != row[actor]:
                mismatches.append(
                    f"{key}: {method} {url} as {actor}: the table says {row[actor]!r}, "
                    f"got {got!r} (HTTP {response.status_code}"
                    + (f" to {response.location}" if response.location else "")
                    + ")"
                )
        if rule.endpoint in SESSION_ENDING:
            cookies = _signed_in_cookies(app, users)
    assert not mismatches, "\n".join(mismatches)


def test_the_session_ending_rows_really_end_the_session(app: Flask) -> None:
    """Why the matrix signs everyone in again after them (and proof that they do what they say)."""
    users, _ = make_route_world()
    for endpoint in sorted(SESSION_ENDING):
        cookies = _signed_in_cookies(app, {"pledger": users["pledger"]})
        client = _client_for(app, "pledger", cookies)
        token = csrf_token(client, "/account/")
        url = app.url_map.bind("localhost").build(endpoint)
        assert client.post(url, data={"csrf_token": token}).status_code == 302
        replayed = _client_for(app, "pledger", cookies)
        assert _outcome(replayed.get("/account/")) == "signin", endpoint


def test_the_only_view_exempt_from_csrf_is_the_stripe_webhook(app: Flask) -> None:
    exempt = sorted(
        endpoint
        for endpoint, view in app.view_functions.items()
        if f"{view.__module__}.{view.__name__}" in csrf._exempt_views
    )
    exempt_blueprints = sorted(bp.name for bp in csrf._exempt_blueprints)

    assert set(exempt) <= CSRF_EXEMPT_ALLOWED, (
        f"Only the Stripe webhook may skip the CSRF check, but these views are exempt too: "
        f"{sorted(set(exempt) - CSRF_EXEMPT_ALLOWED)}"
    )
    assert not exempt_blueprints, f"Whole blueprints are exempt from CSRF: {exempt_blueprints}"


def _row_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table)) or 0
        for table in db.metadata.sorted_tables
    }


@pytest.mark.parametrize("actor", ["anonymous", "admin"])
def test_every_form_refuses_a_post_without_a_csrf_token_and_changes_nothing(app: Flask, actor: str) -> None:
    users, samples = make_route_world()
    cookies = _signed_in_cookies(app, {k: v for k, v in users.items() if k == actor})
    before = _row_counts()

    unprotected = []
    for key, rule, method in route_keys(app):
        if method == "GET" or rule.endpoint in CSRF_EXEMPT_ALLOWED:
            continue
        row = ROUTES.get(key, {})
        url = route_url(app, rule, row, TABLE, samples)
        form = {name: str(value).format(**samples) for name, value in dict(row.get("form", {})).items()}
        client = _client_for(app, actor, cookies)
        response = client.open(url, method=method, data=form, environ_base={"REMOTE_ADDR": _new_address()})
        if response.status_code != 400 or CSRF_REFUSAL not in response.get_data(as_text=True):
            unprotected.append(f"{method} {url} ({rule.endpoint}): HTTP {response.status_code}")

    assert not unprotected, "These took a POST without a CSRF token:\n" + "\n".join(unprotected)
    db.session.expire_all()
    assert _row_counts() == before


def test_changing_an_id_in_a_pledgers_link_never_reaches_someone_elses_pledge(client: FlaskClient) -> None:
    campaign = CampaignFactory()
    mine = make_pledge(campaign, status=PledgeStatus.PENDING, email="me@example.org")
    theirs = make_pledge(campaign, status=PledgeStatus.PENDING, email="them@example.org", name="Someone Else")
    their_payment = settle.open_card_payment(theirs.instalments[0])
    db.session.commit()
    my_link = links.my_pledges_token(mine.id)
    my_pledge_link = links.pledge_token(mine.id)
    forged = links.pledge_token(theirs.id)[:-2] + "xx"

    for url in (
        f"/my-pledges/{my_link}/{theirs.id}/cancel",
        f"/pledges/{my_pledge_link}/payments/{their_payment.id}/confirm",
        f"/pledges/{forged}",
        f"/pledges/{forged}/card",
        f"/my-pledges/{my_link[:-2]}xx",
    ):
        response = client.get(url)
        assert response.status_code == 404, f"{url}: HTTP {response.status_code}"
        assert "Someone Else" not in response.get_data(as_text=True)

    token = csrf_token(client, "/account/sign-in")
    response = client.post(f"/my-pledges/{my_link}/{theirs.id}/cancel", data={"csrf_token": token})
    assert response.status_code == 404
    db.session.expire_all()
    assert theirs.status == PledgeStatus.PENDING
