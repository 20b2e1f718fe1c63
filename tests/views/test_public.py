from app.models import PledgerKind, PledgeStatus, Visibility
from tests.factories import CampaignFactory, OrganisationFactory, make_pledge


def test_campaign_page_shows_the_figures_of_a_known_dataset(page) -> None:
    campaign = CampaignFactory(min_councils=3, target_pence=10_000_00)
    leeds = OrganisationFactory(name="Leeds City Council")
    make_pledge(campaign, pounds="2,000", kind=PledgerKind.COUNCIL, organisation=leeds, conditional=True)
    make_pledge(campaign, pounds="50", name="Ada Lovelace", paid_instalments=1, status=PledgeStatus.FULFILLED)
    make_pledge(campaign, pounds="70", name="Secret Person", visibility=Visibility.ANONYMOUS)

    html = page.get(f"/campaigns/{campaign.slug}").get_data(as_text=True)

    assert "£2,120.00" in html  # pledged
    assert "£50.00" in html  # collected
    assert "Needs 3 councils — 1 so far (2 more needed)" in html
    assert "Leeds City Council" in html
    assert "Ada Lovelace" in html
    assert "Secret Person" not in html
    assert "£70.00" not in html


def test_unknown_campaign_gets_the_404_page(page) -> None:
    html = page.get("/campaigns/no-such-campaign", status=404).get_data(as_text=True)
    assert "Page not found" in html


def test_healthz(client) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}
