"""The match-offer form, used by sponsors for their own organisation and by treasurers on a
sponsor's behalf. It checks what was typed; the rules themselves live in matching.match_funding."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, ValidationError

from app.forms import NO_CONTROL_CHARACTERS
from app.matching import match_funding
from app.models import Campaign, MatchEligibility, Organisation
from app.money import Money, MoneyError


class MatchOfferForm(FlaskForm):
    """Ratio, cap, which pledges it matches and whether it is conditional.

    There is deliberately no field to direct the money (no earmarking): an offer goes to the
    campaign as a whole.
    """

    campaign = SelectField(
        "Campaign",
        widget=GovSelect(),
        validate_choice=False,  # checked in validate_campaign, with a clearer message
        validators=[InputRequired(message="Choose the campaign to match")],
    )
    sponsor = SelectField(
        "Sponsor",
        widget=GovSelect(),
        description="The organisation making the offer. It is named on the campaign page.",
        validate_choice=False,
        validators=[InputRequired(message="Choose the sponsor making the offer")],
    )
    ratio = StringField(
        "For every £1 pledged, how much will be added?",
        widget=GovTextInput(),
        description="For example 1 for £1 for every £1, 0.50 for 50p for every £1, or 2 to double "
        "every pound. At most £10 for every £1.",
        validators=[
            InputRequired(message="Enter how much is added for every £1 pledged, like 1 or 0.50"),
            Length(max=40, message="Enter the ratio as an amount for every £1 pledged, like 1 or 0.50"),
        ],
    )
    cap = StringField(
        "The most the offer will add in total (the cap)",
        widget=GovTextInput(),
        description="In pounds, for example 5000 or 5,000.50.",
        validators=[
            InputRequired(message="Enter the most the offer will add in total"),
            Length(max=20, message="Enter the cap in pounds, like 5000 or 5000.50"),
        ],
    )
    eligibility = RadioField(
        "Which pledges does it match?",
        widget=GovRadioInput(),
        choices=[
            SelectChoice(MatchEligibility.BOTH.value, "Councils' and individuals' pledges"),
            SelectChoice(MatchEligibility.COUNCILS.value, "Councils' pledges only"),
            SelectChoice(MatchEligibility.INDIVIDUALS.value, "Individuals' pledges only"),
        ],
        default=MatchEligibility.BOTH.value,
        validators=[InputRequired(message="Choose which pledges the offer matches")],
    )
    conditional = RadioField(
        "When is the match paid?",
        widget=GovRadioInput(),
        choices=[
            SelectChoice("yes", "Only if the campaign succeeds"),
            SelectChoice("no", "Whatever happens, on what was pledged"),
        ],
        default="yes",
        validators=[InputRequired(message="Choose when the match is paid")],
    )
    submit = SubmitField("Make this offer", widget=GovSubmitInput())

    def __init__(
        self,
        *args: Any,
        campaigns: list[Campaign] | None = None,
        sponsors: list[Organisation] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.money: Money | None = None
        self.ratio_bp: int | None = None
        self.chosen_campaign: Campaign | None = None
        self.chosen_sponsor: Organisation | None = None
        if campaigns is None:
            del self.campaign
        else:
            self._campaigns = {c.slug: c for c in campaigns}
            self.campaign.choices = [("", "Choose a campaign")] + [(c.slug, c.title) for c in campaigns]
        if sponsors is None:
            del self.sponsor
        else:
            self._sponsors = {s.slug: s for s in sponsors}
            self.sponsor.choices = [("", "Choose a sponsor")] + [(s.slug, s.name) for s in sponsors]

    def validate_campaign(self, field: SelectField) -> None:
        self.chosen_campaign = self._campaigns.get(field.data or "")
        if self.chosen_campaign is None:
            raise ValidationError("Choose a campaign from the list")

    def validate_sponsor(self, field: SelectField) -> None:
        self.chosen_sponsor = self._sponsors.get(field.data or "")
        if self.chosen_sponsor is None:
            raise ValidationError("Choose a sponsor from the list")

    def validate_ratio(self, field: StringField) -> None:
        if field.errors:  # WTForms runs this even after Length has refused the field
            return
        try:
            self.ratio_bp = match_funding.parse_ratio(field.data or "")
        except match_funding.MatchError as error:
            raise ValidationError(str(error)) from error

    def validate_cap(self, field: StringField) -> None:
        if field.errors:  # too long to parse safely: Length has already said why
            return
        try:
            money = Money.parse(field.data or "")
        except MoneyError as error:
            message = str(error).replace("the amount", "the cap").replace("an amount", "a cap")
            raise ValidationError(message.rstrip(".")) from error
        if money.pence <= 0:
            raise ValidationError("Enter a cap greater than zero")
        self.money = money

    @property
    def is_conditional(self) -> bool:
        return self.conditional.data == "yes"

    def show(self, error: match_funding.MatchError) -> None:
        """Put an error from the service beside the field it is about (the cap, if it names none)."""
        field = self._fields.get(error.field or "")
        (field if field is not None else self.cap).errors = [str(error)]


class WithdrawOfferForm(FlaskForm):
    reason = TextAreaField(
        "Why are you withdrawing this offer?",
        widget=GovTextArea(),
        description="Recorded in the audit log.",
        validators=[
            InputRequired(message="Enter the reason for withdrawing the offer"),
            Length(max=500, message="The reason must be 500 characters or fewer"),
            NO_CONTROL_CHARACTERS,
        ],
    )
    submit = SubmitField("Withdraw the offer", widget=GovSubmitInput(), render_kw={"class": "govuk-button--warning"})
