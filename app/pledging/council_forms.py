from __future__ import annotations

import secrets
from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, Regexp, ValidationError

from app.forms import NO_CONTROL_CHARACTERS, SUBMISSION_TOKEN
from app.invoicing import invoices
from app.models import Campaign, FundingModel, Organisation, Visibility
from app.money import Money, MoneyError
from app.pledging import pledges

# Names and addresses never need angle brackets; refusing them keeps markup out of invoices and emails.
NO_MARKUP = Regexp(r"^[^<>]*$", message="Remove the < and > characters")
MAX_ADDRESS = 500
AMOUNT_LENGTH = 20


def council_label(council: Organisation) -> str:
    """The select's text for a council: its name, type, GSS code and population where known."""
    details = [council.council_type.label if council.council_type else "Council"]
    if council.gss_code:
        details.append(council.gss_code)
    if council.population:
        details.append(f"population {council.population:,}")
    return f"{council.name} – {', '.join(details)}"


class CouncilPledgeForm(FlaskForm):
    """A council's pledge by purchase order. Checked here; the rules live in invoicing.invoices."""

    council = SelectField(
        "Council",
        widget=GovSelect(),
        coerce=str,
        validators=[InputRequired(message="Choose the council you are pledging for")],
        validate_choice=False,  # validate_council says which councils are allowed, once
    )
    suggest = SubmitField("Show the suggested amount for this council", widget=GovSubmitInput())
    amount = StringField(
        "How much will the council pledge each year?",
        widget=GovTextInput(),
        description="In pounds, for example 2500 or 2,500.50.",
        validators=[
            InputRequired(message="Enter how much the council will pledge each year"),
            Length(max=AMOUNT_LENGTH, message="Enter the amount in pounds, like 2500 or 2500.50"),
        ],
    )
    years = RadioField(
        "For how many years?",
        widget=GovRadioInput(),
        choices=[SelectChoice(str(n), f"{n} year" + ("s" if n > 1 else "")) for n in range(1, invoices.MAX_YEARS + 1)],
        default="1",
        validators=[InputRequired(message="Choose how many years the council will pledge for")],
        invalid_choice_message=f"Choose between 1 and {invoices.MAX_YEARS} years",
    )
    conditional = RadioField(
        "When should the council pay?",
        widget=GovRadioInput(),
        choices=[
            SelectChoice("yes", "Only if the campaign succeeds"),
            SelectChoice("no", "Whatever happens"),
        ],
        default="yes",
        validators=[InputRequired(message="Choose when the council should pay")],
        invalid_choice_message="Choose when the council should pay",
    )
    po_number = StringField(
        "Purchase order number",
        widget=GovTextInput(),
        description="We print it on every invoice. Letters, numbers, spaces, hyphens (-) and slashes (/).",
        validators=[
            InputRequired(message="Enter the purchase order number"),
            Length(max=64, message="Purchase order number must be 64 characters or fewer"),
            Regexp(
                invoices.PO_NUMBER.pattern,
                message="Purchase order number can only contain letters, numbers, spaces, hyphens (-) and slashes (/)",
            ),
        ],
    )
    billing_contact = StringField(
        "Name of the person who receives invoices",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter the name of the person who receives invoices"),
            Length(max=200, message="Name must be 200 characters or fewer"),
            NO_CONTROL_CHARACTERS,
            NO_MARKUP,
        ],
    )
    billing_email = StringField(
        "Email address for invoices",
        widget=GovTextInput(),
        description="We send the pro-forma, the invoices and any reminders here.",
        validators=[
            InputRequired(message="Enter the email address for invoices"),
            Length(max=254, message="Email address must be 254 characters or fewer"),
            Email(message="Enter an email address in the correct format, like accounts@council.gov.uk"),
        ],
    )
    billing_address = TextAreaField(
        "Billing address",
        widget=GovTextArea(),
        description="As it should appear on the invoice, including the postcode.",
        validators=[
            InputRequired(message="Enter the billing address"),
            Length(max=MAX_ADDRESS, message=f"Billing address must be {MAX_ADDRESS} characters or fewer"),
            NO_CONTROL_CHARACTERS,
            NO_MARKUP,
        ],
    )
    visibility = RadioField(
        "How should the pledge appear on the campaign page?",
        widget=GovRadioInput(),
        choices=[
            SelectChoice(Visibility.PUBLIC.value, "Show the council's name and amount"),
            SelectChoice(Visibility.NAME_HIDDEN.value, "Show the amount, but not the council's name"),
            SelectChoice(Visibility.ANONYMOUS.value, "Do not show the council's name or amount"),
        ],
        default=Visibility.PUBLIC.value,
        validators=[InputRequired(message="Choose how the pledge should appear")],
        invalid_choice_message="Choose how the pledge should appear",
    )
    hide_from_wall = BooleanField(
        "Do not show our council on the wall of supporting councils", widget=GovCheckboxInput()
    )
    wants_updates = BooleanField(
        "Email me the campaign’s news and updates (about once a month)",
        widget=GovCheckboxInput(),
    )
    submission_token = HiddenField(validators=[SUBMISSION_TOKEN])
    submit = SubmitField("Pledge and get the invoice", widget=GovSubmitInput())

    def __init__(self, campaign: Campaign, councils: list[Organisation], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        self.councils = {str(c.id): c for c in councils}
        self.council.choices = [SelectChoice("", "Choose a council")] + [
            SelectChoice(str(c.id), council_label(c)) for c in councils
        ]
        self.money: Money | None = None
        if not self.submission_token.data:
            self.submission_token.data = secrets.token_urlsafe(24)
        if campaign.funding_model != FundingModel.ALL_OR_NOTHING:
            del self.conditional

    @property
    def organisation(self) -> Organisation | None:
        return self.councils.get(self.council.data or "")

    @property
    def is_conditional(self) -> bool:
        return "conditional" in self._fields and self.conditional.data == "yes"

    def validate_council(self, field: SelectField) -> None:
        if field.data not in self.councils:
            raise ValidationError("Choose a council from the list")

    def validate_amount(self, field: StringField) -> None:
        if len(field.data or "") > AMOUNT_LENGTH:
            return  # Length has said so; do not parse a huge number
        try:
            money = Money.parse(field.data or "", self.campaign.currency)
            pledges.check_amount(money, self.campaign.currency)
        except (MoneyError, pledges.PledgeError) as error:
            raise ValidationError(str(error)) from error
        self.money = money

    def validate_submission_token(self, field: HiddenField) -> None:
        if not field.data or len(field.data) > 64:
            raise ValidationError("The form had expired. Refresh the page and try again.")
