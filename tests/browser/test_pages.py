"""Every page a visitor or a signed-in user can reach passes axe-core (WCAG 2.2 AA and best
practice) in a real Chromium, logs no errors, and reflows on a phone without sideways scrolling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import (
    CampaignStatus,
    CampaignUpdate,
    Frequency,
    FundingModel,
    PledgerKind,
    PledgeStatus,
    Role,
    Visibility,
    utcnow,
)
from tests.browser.browsing import Browse, describe
from tests.factories import PASSWORD, CampaignFactory, OrganisationFactory, SponsorFactory, UserFactory, make_pledge

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Site:
    live: str  # path of a live campaign with councils, supporters, messages and an update
    failed: str  # path of a campaign that closed without reaching its target


@pytest.fixture
def site() -> Site:
    """A small but complete site: every section of every page has something in it."""
    leeds = OrganisationFactory(name="Leeds City Council")
    quiet = OrganisationFactory(name="Quiet District Council")
    northgate = SponsorFactory(name="Northgate Civic Fund")
    campaign = CampaignFactory(
        title="Pipeline community manager 2027/28",
        summary="Fund a community manager for a year to help councils share and reuse their work.",
        min_councils=3,
    )
    make_pledge(campaign, pounds="4,000", kind=PledgerKind.COUNCIL, organisation=leeds, conditional=True)
    make_pledge(
        campaign, pounds="1,000", kind=PledgerKind.COUNCIL, organisation=quiet, conditional=True, show_on_wall=False
    )
    make_pledge(
        campaign,
        pounds="10",
        frequency=Frequency.MONTHLY,
        instalments=12,
        name="Ada Lovelace",
        email="pledger@example.org",
        message="Sharing what works saves us all time.",
    )
    make_pledge(
        campaign, pounds="50", visibility=Visibility.NAME_HIDDEN, paid_instalments=1, status=PledgeStatus.FULFILLED
    )
    make_pledge(campaign, pounds="70", visibility=Visibility.ANONYMOUS)
    db.session.add(CampaignUpdate(campaign=campaign, title="The campaign is open", body="Pledges are open."))
    failed = CampaignFactory(
        title="Shared accessibility auditor 2025/26",
        status=CampaignStatus.FAILED,
        funding_model=FundingModel.KEEP_WHAT_YOU_RAISE,
        opens_at=utcnow() - timedelta(days=60),
        closes_at=utcnow() - timedelta(days=5),
    )
    UserFactory(email="pledger@example.org", name="Pat Pledger", role=Role.PLEDGER, organisation=leeds)
    UserFactory(email="treasurer@example.org", name="Tessa Treasurer", role=Role.TREASURER)
    UserFactory(email="sponsor@example.org", name="Sam Sponsor", role=Role.SPONSOR, organisation=northgate)
    UserFactory(email="admin@example.org", name="Ada Admin", role=Role.ADMIN)
    site = Site(live=f"/campaigns/{campaign.slug}", failed=f"/campaigns/{failed.slug}")
    db.session.commit()  # ends the read transaction, so the server thread can write freely
    return site


PUBLIC_PAGES = {
    "home": lambda site: "/",
    "campaign list": lambda site: "/campaigns",
    "live campaign": lambda site: site.live,
    "failed campaign": lambda site: site.failed,
    "pledge form": lambda site: site.live + "/pledge",
    "find your pledges": lambda site: "/my-pledges",
}


@pytest.mark.parametrize("page_name", PUBLIC_PAGES)
def test_public_pages_are_accessible(browse: Browse, site: Site, page_name: str) -> None:
    browse.goto(PUBLIC_PAGES[page_name](site))
    browse.assert_accessible()


def test_pledge_form_errors_are_accessible(browse: Browse, site: Site) -> None:
    page = browse.goto(site.live)
    page.get_by_role("button", name="Make a pledge").click()
    page.wait_for_url("**/pledge")
    with page.expect_navigation():
        page.get_by_role("button", name="Continue to card details").click()
    assert page.title().startswith("Error: ")
    browse.assert_accessible()


@pytest.mark.parametrize("path", ["/campaigns/no-such-campaign", "/no-such-page"])
def test_not_found_page_is_accessible(browse: Browse, path: str) -> None:
    page = browse.goto(path, status=404)
    assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
    browse.assert_accessible()


def test_sign_in_page_is_accessible(browse: Browse) -> None:
    browse.goto("/account/sign-in")
    browse.assert_accessible()


def test_sign_in_errors_are_accessible(browse: Browse, site: Site) -> None:
    page = browse.sign_in("pledger@example.org", "not the password", expect_success=False)
    assert page.title().startswith("Error: ")
    assert page.get_by_role("alert").get_by_text("Enter a correct email address and password").is_visible()
    browse.assert_accessible()


def test_sign_in_with_nothing_entered_is_accessible(browse: Browse) -> None:
    page = browse.goto("/account/sign-in")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").get_by_text("Enter your email address").is_visible()
    browse.assert_accessible()


@pytest.mark.parametrize(
    ("email", "path"),
    [
        ("pledger@example.org", "/account/"),
        ("treasurer@example.org", "/treasurer/"),
        ("sponsor@example.org", "/sponsor/"),
        ("admin@example.org", "/admin/"),
    ],
)
def test_signed_in_pages_are_accessible(browse: Browse, site: Site, email: str, path: str) -> None:
    browse.sign_in(email, PASSWORD)
    browse.goto(path)
    browse.assert_accessible()


@pytest.mark.parametrize("action", ["close", "extend"])
def test_treasurer_deadline_pages_and_their_errors_are_accessible(browse: Browse, site: Site, action: str) -> None:
    browse.sign_in("treasurer@example.org", PASSWORD)
    slug = site.live.rsplit("/", 1)[-1]
    page = browse.goto(f"/treasurer/campaigns/{slug}/{action}")
    browse.assert_accessible()
    browse._expected_status = 400  # the form comes back with its errors
    with page.expect_navigation():
        page.locator("form .govuk-button").click()
    assert page.title().startswith("Error: ")
    browse.assert_accessible()


def test_forbidden_page_is_accessible(browse: Browse, site: Site) -> None:
    browse.sign_in("pledger@example.org", PASSWORD)
    page = browse.goto("/treasurer/", status=403)
    assert page.get_by_role("heading", level=1).inner_text() == "You do not have permission to see this page"
    browse.assert_accessible()


@pytest.mark.parametrize("width", [320, 390])
def test_campaign_page_fits_a_phone_screen(browse: Browse, site: Site, width: int) -> None:
    """No sideways scrolling at phone widths (WCAG 1.4.10 Reflow is judged at 320 CSS pixels)."""
    browse.page.set_viewport_size({"width": width, "height": 800})
    for path in (site.live, "/campaigns"):
        page = browse.goto(path)
        scroll_width, client_width = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll_width <= client_width, f"{path} at {width}px scrolls sideways: {scroll_width}px wide"


def test_wide_tables_scroll_inside_their_box_on_a_phone(browse: Browse, site: Site) -> None:
    browse.page.set_viewport_size({"width": 320, "height": 800})
    browse.sign_in("admin@example.org", PASSWORD)
    for path in ("/treasurer/", "/admin/"):
        page = browse.goto(path)
        scroll_width, client_width = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll_width <= client_width, f"{path} at 320px scrolls sideways: {scroll_width}px wide"
        browse.assert_accessible()


def test_pages_carry_pledgeline_branding_not_gov_uk(browse: Browse, site: Site) -> None:
    page = browse.goto(site.live)
    header = page.locator(".govuk-generic-header")
    assert "Pledgeline" in header.inner_text()
    assert "LocalGov Digital" in header.inner_text()
    assert header.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(0, 98, 94)"
    assert page.locator(".govuk-header__logotype, .govuk-footer__crown, .govuk-logo-dot").count() == 0
    font = page.locator(".govuk-body").first.evaluate("el => getComputedStyle(el).fontFamily")
    assert "GDS Transport" not in font
    assert "Helvetica" in font
    assert page.locator("meta[name=theme-color]").get_attribute("content") == "#00625e"
    fonts_declared = page.evaluate(
        "() => [...document.styleSheets].flatMap(s => [...s.cssRules])"
        ".filter(r => r instanceof CSSFontFaceRule).map(r => r.cssText)"
    )
    assert fonts_declared == [], f"the stylesheet declares fonts: {fonts_declared}"


def test_the_accessibility_check_does_find_problems(browse: Browse) -> None:
    """Guards the guard: a page with a known fault must fail, so a silent axe cannot pass everything."""
    page = browse.goto("/account/sign-in")
    page.evaluate(
        """() => document.querySelector("main").insertAdjacentHTML("beforeend",
        '<img src="/static/images/favicon.svg"><input type="text">')"""
    )
    found = {violation["id"] for violation in browse.axe()}
    assert {"image-alt", "label"} <= found, found


# --- The treasurer's money actions and reconciliation ------------------------------------------


@dataclass(frozen=True)
class ActionSite:
    card_pledge: int
    card_payment: int
    council_pledge: int
    invoice: int
    lost_webhook: int  # a reconciliation difference that can be applied
    unknown: int  # one that can only be explained


@pytest.fixture
def action_site(site: Site) -> ActionSite:
    """A paid card pledge, an overdue council invoice and a reconciliation result with differences."""
    from sqlalchemy import select

    from app.models import (
        DifferenceKind,
        Invoice,
        Payment,
        ReconciliationDifference,
        ReconciliationRun,
        RunStatus,
    )
    from app.payments import settle
    from tests.factories import make_council_pledge

    campaign = CampaignFactory(title="Shared data standards lead 2027/28")
    card = make_pledge(campaign, pounds="40", paid_instalments=1, status=PledgeStatus.FULFILLED, name="Rosa Parkinson")
    payment = db.session.scalars(select(Payment).where(Payment.pledge_id == card.id)).one()
    payment.stripe_payment_intent_id = "pi_browser_test_card"  # as if charged through Stripe
    council = make_council_pledge(
        campaign, council=OrganisationFactory(name="Calderdale Council"), conditional=False, pounds="3000"
    )
    invoice = db.session.scalars(select(Invoice).where(Invoice.pledge_id == council.id)).one()
    invoice.issued_on -= timedelta(days=45)
    invoice.due_on = invoice.issued_on + timedelta(days=30)
    lost = make_pledge(campaign, pounds="30", status=PledgeStatus.PENDING, name="Lee Webb")
    open_payment = settle.open_card_payment(lost.instalments[0])
    db.session.flush()
    run = ReconciliationRun(
        window_start=utcnow() - timedelta(days=30),
        finished_at=utcnow(),
        status=RunStatus.DIFFERENCES,
        payment_intents_checked=3,
        charges_checked=3,
        payments_checked=2,
    )
    lost_difference = ReconciliationDifference(
        run=run,
        kind=DifferenceKind.STATUS_MISMATCH,
        key=f"status:{open_payment.id}:pi_browser_lost",
        fingerprint="0" * 64,
        payment_id=open_payment.id,
        stripe_id="pi_browser_lost",
        summary=f"Stripe took £30.00 in PaymentIntent pi_browser_lost, but our payment {open_payment.id} "
        f"({lost.reference}) is pending: the webhook that would have told us was lost.",
        ours={
            "payment_id": open_payment.id,
            "pledge": lost.reference,
            "status": "pending",
            "amount_pence": 3000,
            "currency": "GBP",
            "refunded_pence": 0,
            "payment_intent": None,
        },
        stripe={
            "payment_intent": "pi_browser_lost",
            "charge": "ch_browser_lost",
            "status": "succeeded",
            "amount_pence": 3000,
            "currency": "GBP",
            "refunded_pence": 0,
            "payment_id": str(open_payment.id),
        },
        can_apply=True,
    )
    unknown = ReconciliationDifference(
        run=run,
        kind=DifferenceKind.UNKNOWN_TO_US,
        key="unknown:pi_browser_unknown",
        fingerprint="1" * 64,
        stripe_id="pi_browser_unknown",
        summary="Stripe has £7.77 (succeeded) in PaymentIntent pi_browser_unknown, and we have no payment for it.",
        stripe={"payment_intent": "pi_browser_unknown", "status": "succeeded", "amount_pence": 777, "currency": "GBP"},
    )
    db.session.add_all([run, lost_difference, unknown])
    db.session.commit()
    return ActionSite(card.id, payment.id, council.id, invoice.id, lost_difference.id, unknown.id)


ACTION_PAGES = {
    "money actions": lambda s: "/treasurer/actions",
    "card pledge's actions": lambda s: f"/treasurer/actions/pledges/{s.card_pledge}",
    "council pledge's actions": lambda s: f"/treasurer/actions/pledges/{s.council_pledge}",
    "refund": lambda s: f"/treasurer/actions/payments/{s.card_payment}/refund",
    "send a receipt again": lambda s: f"/treasurer/actions/payments/{s.card_payment}/receipt",
    "cancel a pledge": lambda s: f"/treasurer/actions/pledges/{s.council_pledge}/cancel",
    "record a bank transfer": lambda s: f"/treasurer/actions/invoices/{s.invoice}/bank-transfer",
    "remind an overdue invoice": lambda s: f"/treasurer/actions/invoices/{s.invoice}/remind",
    "send an invoice again": lambda s: f"/treasurer/actions/invoices/{s.invoice}/resend",
    "send the reminders due": lambda s: "/treasurer/actions/reminders",
    "reconciliation": lambda s: "/treasurer/reconcile",
    "apply Stripe's state": lambda s: f"/treasurer/reconcile/differences/{s.lost_webhook}/apply",
    "explain a difference": lambda s: f"/treasurer/reconcile/differences/{s.unknown}/explain",
}


def test_treasurer_action_pages_are_accessible(browse: Browse, action_site: ActionSite) -> None:
    """Every page, signed in once (each is checked, and every problem reported, in one pass)."""
    browse.sign_in("treasurer@example.org", PASSWORD)
    problems = []
    for name, path in ACTION_PAGES.items():
        browse.goto(path(action_site))
        violations = browse.axe()
        if violations:
            problems.append(f"{name} ({browse.page.url}):\n{describe(violations)}")
    assert not problems, "axe-core found problems:\n\n" + "\n".join(problems)


@pytest.mark.parametrize("page_name", ["refund", "cancel a pledge", "record a bank transfer", "explain a difference"])
def test_treasurer_action_errors_are_accessible(browse: Browse, action_site: ActionSite, page_name: str) -> None:
    browse.sign_in("treasurer@example.org", PASSWORD)
    page = browse.goto(ACTION_PAGES[page_name](action_site))
    if page_name == "refund":
        page.get_by_label("How much should be refunded?").fill("40.01")
    browse._expected_status = 400  # the form comes back with its errors
    with page.expect_navigation():
        page.locator("main form .govuk-button").last.click()
    assert page.title().startswith("Error: ")
    assert page.locator(".govuk-error-summary").is_visible()
    browse.assert_accessible()


def test_treasurer_action_pages_fit_a_phone_screen(browse: Browse, action_site: ActionSite) -> None:
    browse.page.set_viewport_size({"width": 320, "height": 800})
    browse.sign_in("treasurer@example.org", PASSWORD)
    for name in ("card pledge's actions", "council pledge's actions", "reconciliation", "refund"):
        page = browse.goto(ACTION_PAGES[name](action_site))
        scroll_width, client_width = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll_width <= client_width, f"{name} at 320px scrolls sideways: {scroll_width}px wide"


# --- Impact, stories, outgoings and updates (issue 6) -------------------------------------------


def _with_impact(site: Site) -> str:
    """Give the live campaign impact figures, a story with a link, and an outgoing; its slug."""
    from datetime import date

    from app.models import Campaign, ImpactMetric
    from tests.factories import ImpactEntryFactory, ImpactStoryFactory, OutgoingFactory

    slug = site.live.rsplit("/", 1)[-1]
    campaign = db.session.scalars(db.select(Campaign).where(Campaign.slug == slug)).one()
    ImpactEntryFactory(campaign=campaign, metric=ImpactMetric.COUNCILS_ENGAGED, value=14, recorded_on=date(2027, 6, 30))
    ImpactEntryFactory(campaign=campaign, metric=ImpactMetric.EVENTS_RUN, value=3, recorded_on=date(2027, 6, 30))
    ImpactStoryFactory(
        campaign=campaign,
        title="Six councils share one planning form",
        text="They met in Leeds and agreed one form.\n\nIt saves each of them a week a year.",
        link="https://pipeline.example/planning-form",
    )
    OutgoingFactory(campaign=campaign)
    db.session.commit()
    return slug


def test_campaign_page_with_impact_is_accessible(browse: Browse, site: Site) -> None:
    _with_impact(site)
    page = browse.goto(site.live)
    assert page.get_by_role("heading", name="What the role has achieved").is_visible()
    browse.assert_accessible()


def test_impact_admin_pages_and_their_errors_are_accessible(browse: Browse, site: Site) -> None:
    slug = _with_impact(site)
    browse.sign_in("admin@example.org", PASSWORD)
    browse.goto(f"/admin/campaigns/{slug}/impact")
    browse.assert_accessible()
    for path in ("impact/figures/new", "impact/stories/new", "outgoings/new", "updates/new"):
        page = browse.goto(f"/admin/campaigns/{slug}/{path}")
        browse.assert_accessible()
        browse._expected_status = 400  # the form comes back with its errors
        with page.expect_navigation():
            page.locator("form .govuk-button").click()
        assert page.title().startswith("Error: ")
        browse.assert_accessible()
        browse._expected_status = 200


def test_transparency_page_is_accessible_and_fits_a_phone(browse: Browse, site: Site) -> None:
    slug = _with_impact(site)
    page = browse.goto(f"/campaigns/{slug}/transparency")
    assert page.locator("svg.app-chart").count() >= 4
    browse.assert_accessible()
    page.set_viewport_size({"width": 320, "height": 800})
    scroll_width, client_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll_width <= client_width, f"transparency page at 320px scrolls sideways: {scroll_width}px wide"


def test_sponsor_reports_page_is_accessible(browse: Browse, site: Site) -> None:
    _with_impact(site)
    browse.sign_in("sponsor@example.org", PASSWORD)
    page = browse.goto("/sponsor/")
    assert page.get_by_role("link", name="impact report").count() >= 1
    browse.assert_accessible()


def test_report_link_page_and_its_errors_are_accessible(browse: Browse, site: Site) -> None:
    slug = _with_impact(site)
    browse.sign_in("treasurer@example.org", PASSWORD)
    page = browse.goto(f"/admin/campaigns/{slug}/report-link")
    browse.assert_accessible()
    page.get_by_label("How many days").fill("365")
    browse._expected_status = 400
    with page.expect_navigation():
        page.locator("form .govuk-button").click()
    assert page.title().startswith("Error: ")
    browse.assert_accessible()
    browse._expected_status = 200
    page.get_by_label("How many days").fill("7")
    with page.expect_navigation():
        page.locator("form .govuk-button").click()
    assert page.get_by_text("Link created").is_visible()
    browse.assert_accessible()


# --- Treasurer dashboard, read side (issue 5) ------------------------------------------------------


def _dashboard_pages(site: Site) -> dict[str, str]:
    """The read-side treasurer pages for the live campaign, with an audit entry to show."""
    from sqlalchemy import select

    from app import audit
    from app.models import Campaign, Organisation, Pledge

    slug = site.live.rsplit("/", 1)[-1]
    campaign = db.session.scalars(select(Campaign).where(Campaign.slug == slug)).one()
    pledge = db.session.scalars(select(Pledge).where(Pledge.campaign_id == campaign.id).order_by(Pledge.id)).first()
    leeds = db.session.scalars(select(Organisation).where(Organisation.name == "Leeds City Council")).one()
    assert pledge is not None
    audit.record("campaign.extended", target=campaign, summary="Deadline moved a week for the browser test")
    db.session.commit()
    return {
        "campaign overview": f"/treasurer/campaigns/{slug}",
        "every pledge": f"/treasurer/campaigns/{slug}/pledges",
        "filtered pledges": f"/treasurer/campaigns/{slug}/pledges?kind=council&sort=largest&q=council",
        "pledges filter error": f"/treasurer/campaigns/{slug}/pledges?status=nonsense",
        "one pledge": f"/treasurer/pledges/{pledge.id}",
        "export form": f"/treasurer/campaigns/{slug}/export",
        "statements": "/treasurer/statements",
        "a council's statement": f"/treasurer/statements/{leeds.slug}",
        "audit log": "/treasurer/audit",
    }


def test_treasurer_dashboard_pages_are_accessible_and_fit_a_phone(browse: Browse, site: Site) -> None:
    """Every read-side treasurer page passes axe at desktop width and at 320px, without sideways
    scrolling (charts and wide tables scroll inside their own focusable boxes)."""
    pages = _dashboard_pages(site)
    browse.sign_in("treasurer@example.org", PASSWORD)
    problems = []
    for width in (1280, 320):
        browse.page.set_viewport_size({"width": width, "height": 900})
        for name, path in pages.items():
            browse.goto(path)
            violations = browse.axe()
            if violations:
                problems.append(f"{name} at {width}px ({browse.page.url}):\n{describe(violations)}")
            scroll_width, client_width = browse.page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            if scroll_width > client_width:
                problems.append(f"{name} at {width}px scrolls sideways: {scroll_width}px wide")
    assert not problems, "\n\n".join(problems)


def test_treasurer_overview_charts_are_drawn_without_javascript(browser, live_server, site: Site) -> None:  # type: ignore[no-untyped-def]
    pages = _dashboard_pages(site)
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(live_server("/account/sign-in"))
        page.get_by_label("Email address").fill("treasurer@example.org")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        page.goto(live_server(pages["campaign overview"]))
        charts = page.locator("svg[role=img]")
        assert charts.count() == 3
        for i in range(3):
            box = charts.nth(i).bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 150
        # Each chart's numbers are one click away, in a table (a native <details>: no script needed).
        page.get_by_text("The numbers in this chart").first.click()
        assert page.locator("details[open] table").first.is_visible()
    finally:
        context.close()


def test_export_form_errors_are_accessible(browse: Browse, site: Site) -> None:
    pages = _dashboard_pages(site)
    browse.sign_in("treasurer@example.org", PASSWORD)
    page = browse.goto(pages["export form"])
    page.get_by_label("From").fill("31 2 2027")
    browse._expected_status = 400  # the form comes back with its errors
    with page.expect_navigation():
        page.get_by_role("button", name="Download CSV").click()
    assert page.title().startswith("Error: ")
    assert page.get_by_role("alert").get_by_text("Enter from as a real date").is_visible()
    browse.assert_accessible()
