"""Signing in and out: what a person sees, and what an attacker cannot do (plan F)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher, Type
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app import create_app
from app.accounts import auth
from app.extensions import db
from app.models import Role, User, UserSession
from app.models.user import session_token_hash
from tests.factories import PASSWORD, OrganisationFactory, SponsorFactory, UserFactory
from tests.helpers import FreshGlobalsClient, csrf_token, production_app, sign_in

SESSION_COOKIE = "pledgeline_session"
REMEMBER_COOKIE = "remember_token"
WRONG_ANSWER = "Enter a correct email address and password"


def _attempt(
    client: FlaskClient,
    email: str,
    password: str,
    *,
    ip: str = "127.0.0.1",
    next_url: str = "",
    remember: bool = False,
    forwarded_for: str | None = None,
) -> TestResponse:
    """One sign-in attempt from `ip`, with a valid CSRF token for that client."""
    token = csrf_token(client, "/account/sign-in")
    data = {"email": email, "password": password, "csrf_token": token, "next": next_url}
    if remember:
        data["remember"] = "y"
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/account/sign-in", data=data, headers=headers, environ_base={"REMOTE_ADDR": ip})


def _is_signed_in(client: FlaskClient) -> bool:
    response = client.get("/account/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/account/sign-in"
    return False


def _set_cookie_header(response: TestResponse, name: str) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, f"expected one {name} cookie, got {response.headers.getlist('Set-Cookie')}"
    return headers[0]


def _cookie_attributes(header: str) -> dict[str, str]:
    attributes = {}
    for part in header.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        attributes[key.lower()] = value
    return attributes


# --- signing in and out ----------------------------------------------------------------------


def test_a_person_signs_in_sees_their_account_and_signs_out(page, client: FlaskClient) -> None:
    UserFactory(email="ada@example.org", name="Ada Lovelace")

    response = sign_in(client, "ada@example.org", PASSWORD)
    assert response.status_code == 302
    assert response.location == "/account/"
    page.client = client
    html = page.get("/account/").get_data(as_text=True)
    assert "Sign out" in html

    token = csrf_token(client, "/account/")
    response = client.post("/account/sign-out", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.location == "/"
    assert not _is_signed_in(client)


def test_signing_out_forgets_a_remembered_device_too(client: FlaskClient) -> None:
    UserFactory(email="ada@example.org")
    assert _attempt(client, "ada@example.org", PASSWORD, remember=True).status_code == 302
    assert client.get_cookie(REMEMBER_COOKIE) is not None

    response = client.post("/account/sign-out", data={"csrf_token": csrf_token(client, "/account/")})

    assert response.status_code == 302
    assert client.get_cookie(REMEMBER_COOKIE) is None, "the remember-me cookie outlived signing out"
    assert not _is_signed_in(client)


def test_sign_in_is_not_fussy_about_the_case_or_spaces_of_an_email(client: FlaskClient) -> None:
    UserFactory(email="ada@example.org")

    assert _attempt(client, "  Ada@Example.ORG ", PASSWORD).status_code == 302
    assert _is_signed_in(client)


def test_a_signed_in_area_sends_an_anonymous_visitor_to_sign_in_and_back(client: FlaskClient) -> None:
    UserFactory(email="ada@example.org")

    response = client.get("/account/")
    assert response.status_code == 302
    sign_in_url = urlsplit(response.location)
    assert sign_in_url.path == "/account/sign-in"
    assert sign_in_url.query == "next=%2Faccount%2F"

    html = client.get(response.location).get_data(as_text=True)
    assert 'name="next" type="hidden" value="/account/"' in html
    assert _attempt(client, "ada@example.org", PASSWORD, next_url="/account/").location == "/account/"


@pytest.mark.parametrize("case", ["wrong password", "unknown email", "deactivated account"])
def test_every_failed_sign_in_gets_the_same_answer(client: FlaskClient, case: str) -> None:
    UserFactory(email="ada@example.org")
    UserFactory(email="gone@example.org", is_active=False)
    # The answer to a plain wrong password is what every other failure must look like.
    reference = _attempt(client, "ada@example.org", "not the password")

    email, password = {
        "wrong password": ("ada@example.org", "not the password either"),
        "unknown email": ("nobody@example.org", "not the password"),
        "deactivated account": ("gone@example.org", PASSWORD),
    }[case]
    response = _attempt(client, email, password)

    assert response.status_code == reference.status_code == 200
    assert WRONG_ANSWER in response.get_data(as_text=True)

    def comparable(r: TestResponse, typed: str) -> str:
        # Only the per-request CSRF token, CSP nonce and the email typed in may differ.
        html = r.get_data(as_text=True).replace(typed, "EMAIL")
        html = re.sub(r'(name="csrf_token" type="hidden" value=")[^"]+', r"\1", html)
        return re.sub(r'nonce="[^"]+"', "", html)

    assert comparable(response, email) == comparable(reference, "ada@example.org")
    assert not _is_signed_in(client)


def test_a_failed_sign_in_is_logged_without_the_password(client: FlaskClient, caplog) -> None:
    UserFactory(email="ada@example.org")

    _attempt(client, "ada@example.org", "hunter2-is-my-password")

    assert any("sign-in failed" in r.getMessage() for r in caplog.records)
    assert "hunter2-is-my-password" not in caplog.text


# --- how passwords are stored ----------------------------------------------------------------


def _argon2_parameters(encoded: str) -> dict[str, int | str]:
    match = re.fullmatch(r"\$(argon2(?:id|i|d))\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$[^$]+\$[^$]+", encoded)
    assert match, f"not an Argon2 hash: {encoded[:20]}…"
    return {"type": match[1], "version": int(match[2]), "m": int(match[3]), "t": int(match[4]), "p": int(match[5])}


def _assert_owasp_argon2id(encoded: str, password: str) -> None:
    parameters = _argon2_parameters(encoded)
    assert parameters["type"] == "argon2id"
    assert parameters["m"] >= 19 * 1024, "at least 19 MiB of memory"
    assert parameters["t"] >= 2, "at least 2 iterations"
    assert parameters["p"] == 1, "parallelism 1"
    assert password not in encoded
    assert PasswordHasher().verify(encoded, password)  # a standard Argon2 library agrees


def test_passwords_are_stored_as_argon2id_with_owasp_parameters(client: FlaskClient) -> None:
    user = auth.create_user("new@example.org", "New Person", "a long enough password", Role.PLEDGER)
    db.session.commit()

    _assert_owasp_argon2id(user.password_hash, "a long enough password")
    # Salted: the same password never gives the same hash twice.
    assert auth.hash_password("a long enough password") != user.password_hash


def test_a_weaker_old_hash_is_upgraded_when_its_owner_signs_in(client: FlaskClient) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=2, type=Type.ID).hash(PASSWORD)
    user = UserFactory(email="ada@example.org", password_hash=weak)

    assert _attempt(client, "ada@example.org", PASSWORD).status_code == 302

    db.session.expire_all()
    stored = db.session.get_one(User, user.id).password_hash
    assert stored != weak
    _assert_owasp_argon2id(stored, PASSWORD)


# --- too many attempts -----------------------------------------------------------------------


def _assert_too_many(response: TestResponse) -> None:
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 5 * 60
    assert "Too many attempts" in response.get_data(as_text=True)


def test_the_eleventh_failed_attempt_on_one_account_is_refused_whichever_address_it_comes_from(
    client: FlaskClient,
) -> None:
    UserFactory(email="ada@example.org")
    UserFactory(email="bob@example.org")

    for n in range(10):
        response = _attempt(client, "ada@example.org", f"guess {n}", ip=f"10.0.0.{n + 1}")
        assert response.status_code == 200, f"attempt {n + 1} was refused early"

    # Even the right password, from a new address, waits: the account is being guessed at.
    _assert_too_many(_attempt(client, "ada@example.org", PASSWORD, ip="10.0.0.99"))
    _assert_too_many(_attempt(client, "ADA@example.org ", PASSWORD, ip="10.0.0.98"))
    assert not _is_signed_in(client)
    # Another person signing in from that address is not held up.
    assert _attempt(client, "bob@example.org", PASSWORD, ip="10.0.0.99").status_code == 302


def test_the_eleventh_failed_attempt_from_one_address_is_refused_whichever_account_it_tries(
    client: FlaskClient, app
) -> None:
    UserFactory(email="ada@example.org")

    for n in range(10):
        response = _attempt(client, f"person{n}@example.org", "guess", ip="10.1.1.1")
        assert response.status_code == 200, f"attempt {n + 1} was refused early"

    _assert_too_many(_attempt(client, "ada@example.org", PASSWORD, ip="10.1.1.1"))
    assert not _is_signed_in(client)
    # The same person from another address gets in.
    assert _attempt(app.test_client(), "ada@example.org", PASSWORD, ip="10.2.2.2").status_code == 302


def test_a_forged_forwarded_for_header_does_not_dodge_the_limit(client: FlaskClient) -> None:
    for n in range(10):
        _attempt(client, f"person{n}@example.org", "guess", ip="10.4.4.4", forwarded_for=f"192.0.2.{n}")

    _assert_too_many(_attempt(client, "someone@example.org", "guess", ip="10.4.4.4", forwarded_for="192.0.2.99"))


@pytest.fixture
def app_behind_a_proxy(database_url: str) -> Iterator[Flask]:
    application = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TRUSTED_PROXY_COUNT": 1})
    application.test_client_class = FreshGlobalsClient
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def test_behind_a_load_balancer_the_limit_is_per_client_not_per_balancer(app_behind_a_proxy: Flask) -> None:
    UserFactory(email="ada@example.org")
    balancer = "10.5.5.5"
    with app_behind_a_proxy.app_context():
        client = app_behind_a_proxy.test_client()
        for n in range(10):
            response = _attempt(client, f"person{n}@example.org", "guess", ip=balancer, forwarded_for="203.0.113.5")
            assert response.status_code == 200

        _assert_too_many(_attempt(client, "ada@example.org", PASSWORD, ip=balancer, forwarded_for="203.0.113.5"))
        # Another person coming through the same balancer is not locked out.
        other = app_behind_a_proxy.test_client()
        assert (
            _attempt(other, "ada@example.org", PASSWORD, ip=balancer, forwarded_for="198.51.100.7").status_code == 302
        )


def test_successful_sign_ins_do_not_count_toward_the_limit(app) -> None:
    UserFactory(email="ada@example.org")

    for n in range(12):
        response = _attempt(app.test_client(), "ada@example.org", PASSWORD, ip="10.3.3.3")
        assert response.status_code == 302, f"sign-in {n + 1} was refused"


# --- sessions and cookies --------------------------------------------------------------------


def test_signing_in_starts_a_new_session(client: FlaskClient) -> None:
    user = UserFactory(email="ada@example.org")
    client.get("/account/sign-in")
    with client.session_transaction() as session:
        session["planted"] = "by someone who fixed this session"
    before = client.get_cookie(SESSION_COOKIE)
    assert before is not None

    assert _attempt(client, "ada@example.org", PASSWORD).status_code == 302

    after = client.get_cookie(SESSION_COOKIE)
    assert after is not None
    assert after.value != before.value
    with client.session_transaction() as session:
        assert "planted" not in session
        token = session["_user_id"]
    # The session's own token, kept server side only as a hash: one open session, for this user.
    assert auth.user_for_session(token) == user
    assert db.session.scalars(select(UserSession.token_hash)).all() == [session_token_hash(token)]


def test_session_cookie_is_httponly_and_samesite_lax(client: FlaskClient) -> None:
    UserFactory(email="ada@example.org")

    response = _attempt(client, "ada@example.org", PASSWORD)

    attributes = _cookie_attributes(_set_cookie_header(response, SESSION_COOKIE))
    assert "httponly" in attributes
    assert attributes["samesite"] == "Lax"
    assert REMEMBER_COOKIE not in response.headers.get("Set-Cookie", "")  # only when asked for


def test_remember_me_lasts_at_most_30_days(client: FlaskClient) -> None:
    UserFactory(email="ada@example.org")

    response = _attempt(client, "ada@example.org", PASSWORD, remember=True)

    attributes = _cookie_attributes(_set_cookie_header(response, REMEMBER_COOKIE))
    assert "httponly" in attributes
    assert attributes["samesite"] == "Lax"
    expires = parsedate_to_datetime(attributes["expires"])
    now = datetime.now(UTC)
    assert now + timedelta(days=29) < expires <= now + timedelta(days=30, minutes=1)


def test_in_production_both_cookies_are_secure(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    UserFactory(email="ada@example.org")

    with production_app(monkeypatch, database_url) as app:
        client = app.test_client()
        base = "https://pledgeline.example"
        html = client.get("/account/sign-in", base_url=base).get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
        assert token
        response = client.post(
            "/account/sign-in",
            base_url=base,
            headers={"Referer": f"{base}/account/sign-in"},
            data={"email": "ada@example.org", "password": PASSWORD, "csrf_token": token[1], "remember": "y"},
        )

    assert response.status_code == 302
    for name in (SESSION_COOKIE, REMEMBER_COOKIE):
        attributes = _cookie_attributes(_set_cookie_header(response, name))
        assert "secure" in attributes, f"{name} is sent over plain HTTP"
        assert "httponly" in attributes
        assert attributes["samesite"] == "Lax"


@pytest.mark.parametrize("how", ["sign out everywhere", "change password"])
@pytest.mark.parametrize("captured", [SESSION_COOKIE, REMEMBER_COOKIE])
def test_a_captured_cookie_is_useless_after_signing_out_everywhere_or_changing_password(
    app, client: FlaskClient, how: str, captured: str
) -> None:
    user = UserFactory(email="ada@example.org")
    assert _attempt(client, "ada@example.org", PASSWORD, remember=True).status_code == 302
    stolen = client.get_cookie(captured)
    assert stolen is not None
    thief = app.test_client()
    thief.set_cookie(captured, stolen.value)
    assert _is_signed_in(thief), "the captured cookie should work until it is revoked"

    if how == "sign out everywhere":
        auth.sign_out_everywhere(user)
    else:
        auth.change_password(user, "a brand new long password")
    db.session.commit()

    assert not _is_signed_in(thief)
    assert not _is_signed_in(client)
    if how == "change password":
        assert _attempt(app.test_client(), "ada@example.org", PASSWORD).status_code == 200
        assert _attempt(app.test_client(), "ada@example.org", "a brand new long password").status_code == 302


def test_a_deactivated_account_is_signed_out_at_once(client: FlaskClient) -> None:
    user = UserFactory(email="ada@example.org")
    assert _attempt(client, "ada@example.org", PASSWORD, remember=True).status_code == 302

    user.is_active = False
    db.session.commit()

    assert not _is_signed_in(client)


def test_a_short_new_password_is_refused_and_the_old_one_still_works(client: FlaskClient) -> None:
    user = UserFactory(email="ada@example.org")

    with pytest.raises(auth.AccountError, match="at least 12 characters"):
        auth.change_password(user, "short")
    db.session.rollback()

    assert _attempt(client, "ada@example.org", PASSWORD).status_code == 302


# --- `flask users create` --------------------------------------------------------------------


def _user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0


def test_users_create_makes_an_account_that_can_sign_in(runner, client: FlaskClient) -> None:
    council = OrganisationFactory(slug="leeds", name="Leeds City Council")

    result = runner.invoke(
        args=[
            "users", "create", "--email", " Tessa@Example.org ", "--name", "Tessa Treasurer",
            "--role", "treasurer", "--organisation", "leeds", "--password", "a long enough password",
        ]
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "Created treasurer tessa@example.org" in result.output
    user = db.session.scalar(select(User).where(User.email == "tessa@example.org"))
    assert user is not None
    assert user.role == Role.TREASURER
    assert user.organisation_id == council.id
    _assert_owasp_argon2id(user.password_hash, "a long enough password")
    assert _attempt(client, "tessa@example.org", "a long enough password").status_code == 302
    assert client.get("/treasurer/").status_code == 200


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--email", "new@example.org", "--password", "short"], "at least 12 characters"),
        (["--email", "ADA@example.org", "--password", "a long enough password"], "already exists"),
        (["--email", "not-an-email", "--password", "a long enough password"], "correct format"),
        (["--email", "new@example.org", "--password", "a long enough password", "--role", "king"], "Invalid value"),
        (["--email", "new@example.org", "--password", "a long enough password", "--organisation", "nope"], "nope"),
    ],
    ids=["short-password", "duplicate-email", "bad-email", "unknown-role", "unknown-organisation"],
)
def test_users_create_refuses_bad_input_with_a_non_zero_exit(runner, arguments: list[str], message: str) -> None:
    UserFactory(email="ada@example.org")

    result = runner.invoke(args=["users", "create", "--name", "New Person", *arguments])

    assert result.exit_code != 0
    assert message in result.output
    assert _user_count() == 1


# --- where sign-in sends people afterwards ---------------------------------------------------

OPEN_REDIRECTS = [
    "//evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "\\/evil.com",
    "///evil.com",
    "////evil.com",
    "https:evil.com",
    "http:/evil.com",
    "http://evil.com",
    "https://evil.com/account/",
    "HTTPS://EVIL.COM",
    "//evil.com/%2F..",
    "/%5Cevil.com",
    "%2F%2Fevil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    "/\r/evil.com",
    " //evil.com",
    "\x00//evil.com",
    "//localhost@evil.com",
    "http://localhost@evil.com",
    "https://localhost.evil.com",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.com",
    "/\\/evil.com",
    "//evil。com",
    "//%65vil.com",
]
C0_AND_SPACE = "".join(chr(c) for c in range(0x21))


def _stays_on_site(location: str) -> bool:
    """Would a browser following this Location stay on our site? (WHATWG URL rules, roughly.)"""
    cleaned = re.sub(r"[\t\n\r]", "", location.strip(C0_AND_SPACE)).replace("\\", "/")
    parts = urlsplit(cleaned)
    if parts.scheme:
        return parts.scheme.lower() in ("http", "https") and parts.netloc == "localhost"
    return cleaned.startswith("/") and not cleaned.startswith("//") and not parts.netloc


def test_the_browser_check_used_below_can_tell_on_site_from_off_site() -> None:
    assert _stays_on_site("/account/")
    assert _stays_on_site("http://localhost/account/")
    assert not any(_stays_on_site(target) for target in OPEN_REDIRECTS if not target.startswith("/%"))


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_sign_in_never_redirects_off_site(app, target: str) -> None:
    UserFactory(email="ada@example.org")
    client = app.test_client()

    response = _attempt(client, "ada@example.org", PASSWORD, next_url=target)
    assert response.status_code == 302
    assert _stays_on_site(response.location), f"next={target!r} sent the browser to {response.location!r}"
    assert response.location in ("/account/", target)

    # Already signed in, the sign-in page forwards at once: the same rule applies.
    response = client.get("/account/sign-in", query_string={"next": target})
    assert response.status_code == 302
    assert _stays_on_site(response.location), f"next={target!r} sent the browser to {response.location!r}"
    assert response.location in ("/account/", target)


def test_sign_in_page_keeps_a_hostile_next_only_as_inert_text(client: FlaskClient) -> None:
    html = client.get("/account/sign-in", query_string={"next": '"><script>alert(1)</script>'}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html


@pytest.mark.parametrize("target", ["/campaigns/pipeline", "/account/?tab=pledges#latest", "/treasurer/"])
def test_sign_in_honours_a_relative_next(app, target: str) -> None:
    UserFactory(email="ada@example.org")
    client = app.test_client()

    assert _attempt(client, "ada@example.org", PASSWORD, next_url=target).location == target
    assert client.get("/account/sign-in", query_string={"next": target}).location == target


# --- forged requests -------------------------------------------------------------------------


def test_sign_in_without_a_csrf_token_is_refused_and_signs_nobody_in(client: FlaskClient) -> None:
    user = UserFactory(email="ada@example.org")

    response = client.post("/account/sign-in", data={"email": "ada@example.org", "password": PASSWORD})

    assert response.status_code == 400
    assert "The form had expired or was sent from somewhere else" in response.get_data(as_text=True)
    # A plain way back to the form, not a dead end.
    assert '<a class="govuk-link" href="/account/sign-in">Go back to the form</a>' in response.get_data(as_text=True)
    assert not _is_signed_in(client)
    db.session.expire_all()
    assert db.session.get_one(User, user.id).last_login_at is None


def test_sign_in_with_another_sessions_csrf_token_is_refused(app, client: FlaskClient) -> None:
    UserFactory(email="ada@example.org")
    someone_elses = csrf_token(app.test_client(), "/account/sign-in")
    client.get("/account/sign-in")

    response = client.post(
        "/account/sign-in", data={"email": "ada@example.org", "password": PASSWORD, "csrf_token": someone_elses}
    )

    assert response.status_code == 400
    assert not _is_signed_in(client)


def test_sign_out_without_a_csrf_token_is_refused_and_leaves_you_signed_in(client: FlaskClient) -> None:
    UserFactory(email="ada@example.org")
    assert _attempt(client, "ada@example.org", PASSWORD).status_code == 302

    response = client.post("/account/sign-out")

    assert response.status_code == 400
    assert _is_signed_in(client)
    # A button's action address shows no page, so it is not offered as the way back.
    assert "Go back to the form" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("role", "home"),
    [
        (Role.PLEDGER, "/account/"),
        (Role.SPONSOR, "/sponsor/"),
        (Role.TREASURER, "/treasurer/"),
        (Role.ADMIN, "/admin/"),
    ],
)
def test_signing_in_without_a_destination_lands_on_the_roles_own_home(app, role: Role, home: str) -> None:
    UserFactory(email="staff@example.org", role=role, organisation=SponsorFactory() if role == Role.SPONSOR else None)
    client = app.test_client()
    assert _attempt(client, "staff@example.org", PASSWORD).location == home
    assert client.get(home).status_code == 200
    # A page asked for still wins.
    client = app.test_client()
    assert _attempt(client, "staff@example.org", PASSWORD, next_url="/campaigns").location == "/campaigns"
