"""Invoice PDFs say what the database says, in our own font, and fetch nothing but our static files.

PDF renders take ~0.3–0.5 s each, so each test renders one document at most.
"""

from __future__ import annotations

import io
import logging
import shutil
import socket
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from app.database import write_transaction
from app.extensions import db
from app.invoicing import invoices
from app.models import Invoice, InvoiceKind, InvoiceStatus, Organisation, Pledge, User
from app.money import Money
from app.pledging import schedule
from app.reporting import pdf
from app.templating import format_date
from tests.factories import PASSWORD, UserFactory, make_council_pledge
from tests.helpers import sign_in
from tests.invoices.conftest import pdf_text, succeed

FONT = Path(__file__).resolve().parents[2] / "app" / "static" / "fonts" / "LiberationSans-Regular.ttf"
# The smallest valid PNG (1×1, transparent): proves data: URLs still work while others are refused.
PIXEL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _from_database(invoice_id: int) -> Invoice:
    """The invoice as stored: a fresh read, not the object the service returned."""
    db.session.expire_all()
    return db.session.get_one(Invoice, invoice_id)


def _image_count(document: bytes) -> int:
    reader = PdfReader(io.BytesIO(document))
    return sum(len(page.images) for page in reader.pages)


def _embedded_fonts(document: bytes, tmp_path: Path) -> str:
    path = tmp_path / "document.pdf"
    path.write_bytes(document)
    return subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("pdffonts") is None, reason="needs poppler-utils")
def test_the_pro_forma_shows_the_council_po_amounts_and_dates_and_is_plainly_not_payable(
    campaign, contact: User, council: Organisation, tmp_path: Path
) -> None:
    assert FONT.is_file(), "app/static/fonts/ is empty: run `make assets` (needs Debian's fonts-liberation2)"
    pledge = make_council_pledge(campaign, contact, council, pounds="2,500.50", years=3, po_number="PO-2026/00417")
    proforma = _from_database(db.session.scalars(select(Invoice.id).where(Invoice.pledge_id == pledge.id)).one())
    pledge = db.session.get_one(Pledge, pledge.id)

    document = invoices.render_pdf(proforma)
    text = pdf_text(document)

    assert proforma.kind == InvoiceKind.PROFORMA and proforma.number is None
    assert "PRO-FORMA — payable only if the campaign succeeds" in text
    assert "Please do not pay it" in text
    assert "INV-" not in text  # a pro-forma is never numbered
    assert proforma.display_number in text
    assert proforma.bill_to_name == "Borsetshire County Council" and proforma.bill_to_name in text
    assert f"For the attention of {proforma.bill_to_contact}" in text
    for line in proforma.bill_to_address.splitlines():
        assert line in text
    assert proforma.po_number == "PO-2026/00417" and proforma.po_number in text
    assert pledge.reference in text
    assert str(proforma.amount) == "£2,500.50" and f"Total if the campaign succeeds {proforma.amount}" in text
    assert f"Total pledged {pledge.promised}" in text and str(pledge.promised) == "£7,501.50"
    assert f"Campaign closes {format_date(campaign.closes_at)}" in text
    for instalment in pledge.instalments:  # each year in its own financial year, as stored
        assert schedule.financial_year_label(instalment.due_on) in text
        if instalment.sequence > 1:
            assert instalment.due_on.month == 4 and instalment.due_on.day == 1
            assert format_date(instalment.due_on) in text

    fonts = _embedded_fonts(document, tmp_path)
    assert "Pledgeline-Sans" in fonts, f"our font is not embedded (did it fail to load?):\n{fonts}"
    assert "DejaVu" not in fonts


def test_the_invoice_shows_number_dates_po_balance_and_how_to_pay(
    app: Flask, campaign, contact: User, council: Organisation
) -> None:
    pledge = make_council_pledge(campaign, contact, council, pounds="4000", years=2, conditional=False)
    invoice = invoices.live_invoice(pledge.instalments[0].id, InvoiceKind.INVOICE)
    assert invoice is not None
    with write_transaction():
        invoices.record_bank_transfer(invoice, Money.parse("1,250.25"), invoice.issued_on, "BACS BORSET 1", None)
        db.session.commit()
    invoice = _from_database(invoice.id)
    bank = {"BANK_ACCOUNT_NAME": "Pledgeline Test Ltd", "BANK_SORT_CODE": "12-34-56", "BANK_ACCOUNT_NUMBER": "87654321"}
    saved = {name: app.config[name] for name in bank}
    app.config.update(bank)
    try:
        text = pdf_text(invoices.render_pdf(invoice))
    finally:
        app.config.update(saved)

    assert invoice.number == "INV-000001"
    assert f"Invoice number {invoice.number}" in text
    assert "PRO-FORMA" not in text
    assert f"Date of issue {format_date(invoice.issued_on)}" in text
    assert invoice.due_on == invoice.issued_on + timedelta(days=30)
    assert f"Due date {format_date(invoice.due_on)}" in text
    assert f"Purchase order {invoice.po_number}" in text and invoice.po_number == "PO-2026/0042"
    assert invoice.bill_to_name in text and "Town Hall" in text
    assert f"Instalment 1 of 2 of pledge {pledge.reference}" in text
    assert schedule.financial_year_label(invoice.issued_on) in text
    assert f"Total {invoice.amount}" in text and str(invoice.amount) == "£4,000.00"
    assert f"Paid {invoices.paid(invoice)}" in text and str(invoices.paid(invoice)) == "£1,250.25"
    assert f"Balance due {invoices.balance(invoice)}" in text and str(invoices.balance(invoice)) == "£2,749.75"
    for value in bank.values():  # from configuration, not the demo defaults
        assert value in text
    assert f"Reference {invoice.number}" in text
    assert "Demonstration only" not in text
    assert "Pay online with a debit, credit or purchasing card at:" in text  # its signed payment link
    assert "To pay by card, contact us" not in text
    later = pledge.instalments[1].due_on
    assert f"due {format_date(later)}" in text and later.month == 4 and later.day == 1


def test_the_fetcher_refuses_local_files_and_the_network_and_fetches_nothing(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A listening socket: if the renderer tried to fetch from it, a connection would be waiting.
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0)
    port = listener.getsockname()[1]
    connections: list[object] = []
    real_connect = socket.socket.connect

    def spy(self: socket.socket, address: object) -> None:
        connections.append(address)
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    hostile = [
        "file:///etc/passwd",
        f"http://127.0.0.1:{port}/logo.png",
        "https://example.com/logo.png",
        f"http://127.0.0.1:{port}/evil.css",
        "fonts/../../../config.py",  # relative to our static base, but climbing out of it
        f"file://{Path(app.static_folder or '').resolve()}/fonts/LiberationSans-Regular.ttf",  # file: even for ours
    ]
    # The hostile URLs reach the page the way a careless template would let them: as context values.
    html = app.jinja_env.from_string(
        """<!DOCTYPE html><html lang="en"><head>
        <style>@font-face { font-family: Ours; src: url("fonts/LiberationSans-Regular.ttf"); }
        html { font-family: Ours; }</style>
        {% for url in urls if url.endswith(".css") %}<link rel="stylesheet" href="{{ url }}">{% endfor %}
        </head><body><p>Logo test</p>
        {% for url in urls if not url.endswith(".css") %}<img src="{{ url }}" alt="">{% endfor %}
        <img src="{{ pixel }}" alt="">
        </body></html>"""
    ).render(urls=hostile, pixel=PIXEL)
    fetcher = pdf.StaticOnlyFetcher(app.static_folder or "app/static")

    with caplog.at_level(logging.WARNING, logger="app.reporting.pdf"):
        document = pdf.html_to_pdf(html, fetcher=fetcher)

    try:
        connection, _ = listener.accept()
        connection.close()
        pytest.fail("the renderer connected to the local server")
    except BlockingIOError:
        pass
    finally:
        listener.close()
    assert connections == []
    refused = set(fetcher.refused)
    for url in hostile[:4]:
        assert url in refused
    assert any("config.py" in url for url in refused)
    assert any(url.startswith("file://") and url.endswith("LiberationSans-Regular.ttf") for url in refused)
    assert fetcher.served == [pdf.STATIC_BASE_URL + "fonts/LiberationSans-Regular.ttf"]
    assert len([r for r in caplog.records if "PDF fetch refused" in r.getMessage()]) == len(fetcher.refused)
    assert _image_count(document) == 1  # the data: pixel, and nothing that was refused
    assert b"root:" not in document
    assert "Logo test" in pdf_text(document)


# --- Downloading -------------------------------------------------------------------------------


def _pledge_with_proforma(campaign, contact: User, council: Organisation) -> tuple[Pledge, Invoice]:
    pledge = make_council_pledge(campaign, contact, council)
    proforma = invoices.live_invoice(pledge.instalments[0].id, InvoiceKind.PROFORMA)
    assert proforma is not None
    return pledge, proforma


def test_the_pledger_downloads_their_invoice_and_nobody_else_learns_it_exists(
    client: FlaskClient, app: Flask, campaign, contact: User, council: Organisation
) -> None:
    _, proforma = _pledge_with_proforma(campaign, contact, council)
    url = f"/invoices/{proforma.id}.pdf"

    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/account/sign-in" in anonymous.location

    someone = UserFactory(email="someone@example.org")
    other = app.test_client()
    sign_in(other, someone.email, PASSWORD)
    for probe in (url, f"/invoices/{proforma.id + 1000}.pdf", f"/council-pledges/{proforma.pledge_id}"):
        response = other.get(probe)
        assert response.status_code == 404, probe
        assert b"Borsetshire" not in response.data

    sign_in(client, contact.email, PASSWORD)
    mine = client.get(url)
    assert mine.status_code == 200 and mine.mimetype == "application/pdf"
    assert mine.data.startswith(b"%PDF-")
    assert f'filename="{proforma.display_number}.pdf"' in mine.headers["Content-Disposition"]
    assert "no-store" in mine.headers["Cache-Control"]


def test_the_emailed_link_works_until_it_expires_and_cannot_be_forged(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, campaign, contact: User, council: Organisation
) -> None:
    pledge, proforma = _pledge_with_proforma(campaign, contact, council)
    token = invoices.pdf_token(proforma.id)
    from app import links

    assert client.get(f"/invoices/link/{token[:-2]}xx.pdf").status_code == 404  # tampered
    assert client.get(f"/invoices/link/{links.pledge_token(proforma.id)}.pdf").status_code == 404  # another link's
    assert client.get(f"/invoices/link/{invoices.pdf_token(proforma.id + 1000)}.pdf").status_code == 404  # no such
    import itsdangerous.timed

    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() + (invoices.INVOICE_LINK_DAYS + 1) * 86400)
    assert client.get(f"/invoices/link/{token}.pdf").status_code == 404  # expired
    monkeypatch.undo()

    response = client.get(f"/invoices/link/{token}.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    assert pledge.reference in pdf_text(response.data)


def test_a_void_pro_forma_says_which_invoice_replaced_it(campaign, contact: User, council: Organisation) -> None:
    pledge, proforma = _pledge_with_proforma(campaign, contact, council)
    succeed(campaign)
    with write_transaction():
        invoice = invoices.issue_for_instalment(db.session.get_one(Pledge, pledge.id).instalments[0])
        db.session.commit()
    proforma = _from_database(proforma.id)
    assert proforma.status == InvoiceStatus.VOID

    text = pdf_text(invoices.render_pdf(proforma))

    assert f"VOID — replaced by invoice {invoice.number}" in text
    assert "payable only if the campaign succeeds" not in text
