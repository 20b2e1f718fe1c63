"""The findings of the security review (issue 18), each tried again the way it was found.

Finding 2 (pledging for someone else's council) is in tests/invoices/test_council_form.py, and
finding 6 (a webhook object with no id) in tests/webhooks/test_payment_intents.py.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Iterator
from urllib.request import urlopen

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app import links
from app.extensions import db
from app.models import (
    InvoiceStatus,
    Payment,
    Pledge,
    PledgeStatus,
    Refund,
    Role,
    UserSession,
)
from app.money import Money
from app.payments import settle
from tests.factories import PASSWORD, CampaignFactory, UserFactory, make_council_pledge, make_pledge
from tests.helpers import csrf_token, sign_in

SESSION_COOKIE = "pledgeline_session"
REMEMBER_COOKIE = "remember_token"


def _links(html: str) -> list[str]:
    return re.findall(r'href="(/[^"]*)"', html)


def _pledge_form(client: FlaskClient, slug: str, email: str, pounds: str = "5") -> str:
    """Pledge through the public form as anybody can, with whatever email address; the card page URL."""
    page = client.get(f"/campaigns/{slug}/pledge").get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|submission_token)" type="hidden" value="([^"]+)"', page))
    response = client.post(
        f"/campaigns/{slug}/pledge",
        data={
            **fields,
            "name": "Not The Owner",
            "email": email,
            "amount": pounds,
            "frequency": "one_off",
            "visibility": "public",
            "conditional": "no",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.location


# --- Finding 1: the confirmation page opened every pledge of the address typed -------------------


def test_pledging_with_someone_elses_email_opens_none_of_their_pledges(client: FlaskClient) -> None:
    campaign = CampaignFactory()
    victims = make_pledge(campaign, pounds="25", email="victim@example.org", name="Vic Tim")

    card_page = _pledge_form(client, campaign.slug, "victim@example.org")
    token = card_page.split("/pledges/", 1)[1].split("/", 1)[0]
    confirmation = client.get(f"/pledges/{token}").get_data(as_text=True)

    assert "/my-pledges/" not in confirmation  # no address-wide link, only the form to ask for one
    assert "/my-pledges" in confirmation
    for url in _links(confirmation):
        body = client.get(url).get_data(as_text=True)
        # (The campaign page names the victim, who chose to be shown: never their reference or pledges.)
        assert victims.reference not in body and "Cancel " + victims.reference not in body, url
    db.session.expire_all()
    assert victims.status == PledgeStatus.COMMITTED


def test_an_address_wide_link_of_the_old_kind_opens_nothing(client: FlaskClient, app: Flask) -> None:
    """The old links carried the address itself and were shown on confirmation pages: all now dead."""
    campaign = CampaignFactory()
    victims = make_pledge(campaign, email="victim@example.org")
    old = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="pledgeline.my-pledges").dumps("victim@example.org")

    assert client.get(f"/my-pledges/{old}").status_code == 404
    token = csrf_token(client, "/account/sign-in")
    assert client.post(f"/my-pledges/{old}/{victims.id}/cancel", data={"csrf_token": token}).status_code == 404
    db.session.expire_all()
    assert victims.status == PledgeStatus.COMMITTED


def test_links_carry_no_email_address() -> None:
    pledge = make_pledge(CampaignFactory(), email="someone.private@example.org")
    for token in (
        links.my_pledges_token(pledge.id),
        links.pledge_token(pledge.id),
        links.stop_updates_token(pledge.id),
    ):
        payload = token.split(".", 1)[0]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        assert b"@" not in decoded and b"private" not in decoded, decoded


def test_the_confirmation_page_cancels_only_its_own_pledge(client: FlaskClient) -> None:
    campaign = CampaignFactory()
    victims = make_pledge(campaign, pounds="25", email="victim@example.org")
    mine = make_pledge(campaign, pounds="5", email="victim@example.org")
    confirmation = client.get(f"/pledges/{links.pledge_token(mine.id)}").get_data(as_text=True)
    cancel = next(url for url in _links(confirmation) if url.endswith("/cancel"))
    form = client.get(cancel).get_data(as_text=True)
    assert victims.reference not in form and mine.reference in form

    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
    assert token
    assert client.post(cancel, data={"csrf_token": token[1]}).status_code == 302

    db.session.expire_all()
    assert (mine.status, victims.status) == (PledgeStatus.CANCELLED, PledgeStatus.COMMITTED)


def test_a_council_pledge_cannot_be_cancelled_from_a_pledgers_link(client: FlaskClient) -> None:
    """It was: an invoiced council pledge with a bank transfer, cancelled with its invoice left issued."""
    campaign = CampaignFactory()
    pledge = make_council_pledge(campaign, conditional=False)
    invoice = pledge_invoice(pledge)
    settle.record_bank_transfer(
        pledge, invoice.instalment, Money(100_00), received_on=invoice.issued_on, reference="BACS 1"
    )
    db.session.commit()
    url = f"/my-pledges/{links.my_pledges_token(pledge.id)}/{pledge.id}/cancel"

    page = client.get(url).get_data(as_text=True)
    assert "cannot be cancelled here" in page and "Yes, cancel" not in page
    response = client.post(url, data={"csrf_token": csrf_token(client, "/account/sign-in")})
    followed = client.get(response.location).get_data(as_text=True)
    assert "contact the LocalGov Digital treasurer" in followed

    db.session.expire_all()
    assert pledge.status == PledgeStatus.ACTIVE and invoice.status == InvoiceStatus.ISSUED
    mine = client.get(f"/my-pledges/{links.my_pledges_token(pledge.id)}").get_data(as_text=True)
    assert f"Cancel {pledge.reference}" not in mine


def pledge_invoice(pledge: Pledge):  # type: ignore[no-untyped-def]
    from app.models import Invoice, InvoiceKind

    return db.session.scalars(
        select(Invoice).where(Invoice.pledge_id == pledge.id, Invoice.kind == InvoiceKind.INVOICE)
    ).one()


# --- Finding 3: signing out left the session working ------------------------------------------


@pytest.mark.parametrize("how", ["sign out", "sign out everywhere"])
def test_after_signing_out_neither_cookie_opens_the_account(app: Flask, how: str) -> None:
    user = UserFactory(email="ada@example.org")
    browser = app.test_client()
    response = sign_in(browser, user.email, PASSWORD, remember=True)
    assert response.status_code == 302
    session_cookie, remember_cookie = browser.get_cookie(SESSION_COOKIE), browser.get_cookie(REMEMBER_COOKIE)
    assert session_cookie is not None and remember_cookie is not None

    url = "/account/sign-out" if how == "sign out" else "/account/sign-out-everywhere"
    assert browser.post(url, data={"csrf_token": csrf_token(browser, "/account/")}).status_code == 302

    for name, cookie in ((SESSION_COOKIE, session_cookie), (REMEMBER_COOKIE, remember_cookie)):
        thief = app.test_client()
        thief.set_cookie(name, cookie.value)
        replayed = thief.get("/account/")
        assert replayed.status_code == 302 and "/account/sign-in" in replayed.location, name
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_signing_out_one_device_leaves_the_others_signed_in_but_everywhere_ends_them_all(app: Flask) -> None:
    user = UserFactory(email="ada@example.org")
    laptop, phone = app.test_client(), app.test_client()
    for device in (laptop, phone):
        assert sign_in(device, user.email, PASSWORD).status_code == 302

    laptop.post("/account/sign-out", data={"csrf_token": csrf_token(laptop, "/account/")})
    assert phone.get("/account/").status_code == 200
    assert laptop.get("/account/").status_code == 302

    assert sign_in(laptop, user.email, PASSWORD).status_code == 302
    phone.post("/account/sign-out-everywhere", data={"csrf_token": csrf_token(phone, "/account/")})
    assert laptop.get("/account/").status_code == 302 and phone.get("/account/").status_code == 302


def test_changing_the_password_ends_every_other_session_and_keeps_this_one(app: Flask) -> None:
    user = UserFactory(email="ada@example.org")
    here, elsewhere = app.test_client(), app.test_client()
    for device in (here, elsewhere):
        assert sign_in(device, user.email, PASSWORD).status_code == 302
    form = {
        "csrf_token": csrf_token(here, "/account/password"),
        "current_password": PASSWORD,
        "new_password": "a new and much longer password",
        "confirm": "a new and much longer password",
    }

    wrong = here.post("/account/password", data={**form, "current_password": "not it"})
    assert wrong.status_code == 400 and "Your current password is not correct" in wrong.get_data(as_text=True)
    mismatch = here.post("/account/password", data={**form, "confirm": "something else entirely"})
    assert mismatch.status_code == 400 and "type the same one twice" in mismatch.get_data(as_text=True)
    assert elsewhere.get("/account/").status_code == 200  # nothing changed yet

    assert here.post("/account/password", data=form).status_code == 302
    assert here.get("/account/").status_code == 200
    assert elsewhere.get("/account/").status_code == 302
    fresh = app.test_client()
    assert sign_in(fresh, user.email, PASSWORD).status_code == 200  # the old password is refused
    assert sign_in(fresh, user.email, "a new and much longer password").status_code == 302


def test_a_session_ends_when_it_expires_however_long_its_cookie_lives(app: Flask) -> None:
    user = UserFactory(email="ada@example.org")
    browser = app.test_client()
    assert sign_in(browser, user.email, PASSWORD).status_code == 302
    session = db.session.scalars(select(UserSession)).one()
    session.expires_at = session.created_at  # as if its eight hours had passed
    db.session.commit()
    assert browser.get("/account/").status_code == 302


# --- Finding 4: an amount of only spaces was a server error -----------------------------------

BLANKS = [" ", "\t", "\u00a0", "\u2003", " \u00a0 "]


@pytest.fixture
def treasurer_client(app: Flask) -> FlaskClient:
    user = UserFactory(role=Role.TREASURER, email="tessa@example.org")
    client = app.test_client()
    assert sign_in(client, user.email, PASSWORD).status_code == 302
    return client


def _row_counts() -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) or 0 for t in db.metadata.sorted_tables}


@pytest.mark.parametrize("blank", BLANKS)
def test_a_refund_of_only_spaces_is_refused_with_a_message(treasurer_client: FlaskClient, blank: str) -> None:
    pledge = make_pledge(CampaignFactory(), status=PledgeStatus.PENDING)
    payment = settle.open_card_payment(pledge.instalments[0])
    payment.stripe_payment_intent_id, payment.stripe_charge_id = "pi_test_blank", "ch_test_blank"
    settle.mark_succeeded(payment)
    db.session.commit()
    url = f"/treasurer/actions/payments/{payment.id}/refund"
    page = treasurer_client.get(url).get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|token)" type="hidden" value="([^"]+)"', page))
    before = _row_counts()

    response = treasurer_client.post(url, data={**fields, "amount": blank, "reason": "Asked for it back"})

    assert response.status_code == 400
    assert "Enter how much to refund" in response.get_data(as_text=True)
    assert _row_counts() == before
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 0


@pytest.mark.parametrize("blank", BLANKS)
def test_a_bank_transfer_of_only_spaces_is_refused_with_a_message(treasurer_client: FlaskClient, blank: str) -> None:
    pledge = make_council_pledge(CampaignFactory(), conditional=False)
    invoice = pledge_invoice(pledge)
    url = f"/treasurer/actions/invoices/{invoice.id}/bank-transfer"
    page = treasurer_client.get(url).get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|token)" type="hidden" value="([^"]+)"', page))
    received = invoice.issued_on
    before = _row_counts()

    response = treasurer_client.post(
        url,
        data={
            **fields,
            "amount": blank,
            "received_on-day": str(received.day),
            "received_on-month": str(received.month),
            "received_on-year": str(received.year),
            "reference": "BACS 1",
        },
    )

    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "error-summary" in text and "Enter how much arrived" in text
    assert _row_counts() == before
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


# --- Finding 5: tokens in access logs, and pages opened by token cached ------------------------


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app behind werkzeug's real HTTP server (the one `make run` uses), on a free port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def test_no_signed_link_reaches_the_access_log(live_server: str, caplog: pytest.LogCaptureFixture) -> None:
    pledge = make_council_pledge(CampaignFactory(), conditional=False)
    invoice = pledge_invoice(pledge)
    from app.invoicing import invoices

    secrets = {
        links.pledge_token(pledge.id): "/pledges/{}",
        links.my_pledges_token(pledge.id): "/my-pledges/{}",
        links.stop_updates_token(pledge.id): "/stop-updates/{}",
        invoices.pdf_token(invoice.id): "/invoices/link/{}.pdf",
        links.my_pledges_token(pledge.id) + " ": "/my-pledges/{}/" + str(pledge.id) + "/cancel",
    }
    db.session.commit()
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        for secret, path in secrets.items():
            with urlopen(live_server + path.format(secret.strip())) as response:  # noqa: S310 - loopback
                assert response.status == 200
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged.count("[token]") == len(secrets), logged
    for secret in secrets:
        assert secret.strip() not in logged


def test_pages_opened_by_a_signed_link_are_never_cached(client: FlaskClient) -> None:
    pledge = make_council_pledge(CampaignFactory(), conditional=False)
    from app.invoicing import invoices

    invoice = pledge_invoice(pledge)
    for path in (
        f"/pledges/{links.pledge_token(pledge.id)}",
        f"/my-pledges/{links.my_pledges_token(pledge.id)}",
        f"/stop-updates/{links.stop_updates_token(pledge.id)}",
        f"/invoices/pay/{invoices.pay_token(invoice.id)}",
    ):
        response = client.get(path)
        assert response.status_code in (200, 503), path  # 503: the card field needs Stripe
        assert response.headers["Cache-Control"] == "no-store", path
        assert response.headers["Referrer-Policy"] == "no-referrer", path
