from __future__ import annotations

import secrets
from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCharacterCount,
    GovCheckboxInput,
    GovRadioInput,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import BooleanField, HiddenField, RadioField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, Email, InputRequired, Length, Optional, Regexp, ValidationError

from app.forms import NO_CONTROL_CHARACTERS, SUBMISSION_TOKEN
from app.models import Campaign, Frequency, FundingModel, Visibility
from app.money import Money, MoneyError
from app.pledging import pledges


class PledgeForm(FlaskForm):
    """An individual's card pledge. Checked here; the rules themselves live in pledging.pledges."""

    amount = StringField(
        "How much would you like to give?",
        widget=GovTextInput(),
        description="In pounds, for example 25 or 2,500.50. For a regular pledge, this is the amount of each payment.",
        validators=[
            InputRequired(message="Enter how much you would like to give"),
            Length(max=20, message="Enter the amount in pounds, like 2500 or 2500.50"),
        ],
    )
    frequency = RadioField(
        "How often?",
        widget=GovRadioInput(),
        choices=[
            SelectChoice(Frequency.ONE_OFF.value, "Once"),
            SelectChoice(Frequency.MONTHLY.value, "Every month"),
            SelectChoice(Frequency.ANNUALLY.value, "Every year"),
        ],
        default=Frequency.ONE_OFF.value,
        validators=[InputRequired(message="Choose how often you would like to give")],
    )
    instalments = StringField(
        "Number of payments (for monthly or yearly pledges)",
        widget=GovTextInput(),
        description="Leave blank to keep paying until the end of the funding period. You can cancel at any time.",
        validators=[
            Optional(),
            Regexp(r"^\d{1,3}$", message="Enter the number of payments as a whole number, like 12"),
        ],
    )
    conditional = RadioField(
        "When should we take your money?",
        widget=GovRadioInput(),
        choices=[
            SelectChoice("yes", "Only if the campaign succeeds"),
            SelectChoice("no", "Now, whatever happens"),
        ],
        default="yes",
    )
    name = StringField(
        "Your full name",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter your full name"),
            Length(max=200, message="Name must be 200 characters or fewer"),
            NO_CONTROL_CHARACTERS,
        ],
    )
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        description="We will send your receipt and a link to manage your pledge here.",
        validators=[
            InputRequired(message="Enter your email address"),
            Length(max=254, message="Email address must be 254 characters or fewer"),
            Email(message="Enter an email address in the correct format, like name@example.org"),
        ],
    )
    visibility = RadioField(
        "How should your pledge appear on the campaign page?",
        widget=GovRadioInput(),
        choices=[
            SelectChoice(Visibility.PUBLIC.value, "Show my name and amount"),
            SelectChoice(Visibility.NAME_HIDDEN.value, "Show my amount, but not my name"),
            SelectChoice(Visibility.ANONYMOUS.value, "Do not show my name or amount"),
        ],
        default=Visibility.PUBLIC.value,
        validators=[InputRequired(message="Choose how your pledge should appear")],
    )
    message = TextAreaField(
        "Message of support (optional)",
        widget=GovCharacterCount(),
        description="Shown on the campaign page if you chose to show your name.",
        validators=[
            Optional(),
            Length(max=500, message="Message must be 500 characters or fewer"),
            NO_CONTROL_CHARACTERS,
        ],
    )
    wants_updates = BooleanField(
        "Email me the campaign’s news and updates (about once a month)",
        widget=GovCheckboxInput(),
        description="Receipts and reminders about your pledge are sent whatever you choose. "
        "Every update email has a link to stop them.",
    )
    consent = BooleanField(
        "I agree that LocalGov Digital may charge my card as described above. "
        "I can cancel future payments at any time.",
        widget=GovCheckboxInput(),
    )
    submission_token = HiddenField(validators=[SUBMISSION_TOKEN])
    submit = SubmitField("Continue to card details", widget=GovSubmitInput())

    def __init__(self, campaign: Campaign, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        self.money: Money | None = None
        if not self.submission_token.data:
            self.submission_token.data = secrets.token_urlsafe(24)
        if campaign.funding_model != FundingModel.ALL_OR_NOTHING:
            del self.conditional

    @property
    def is_conditional(self) -> bool:
        return "conditional" in self._fields and self.conditional.data == "yes"

    @property
    def instalment_count(self) -> int | None:
        if self.frequency.data == Frequency.ONE_OFF.value or not (self.instalments.data or "").isdigit():
            return None
        return int(self.instalments.data)

    def validate_amount(self, field: StringField) -> None:
        try:
            money = Money.parse(field.data or "", self.campaign.currency)
        except MoneyError as error:
            raise ValidationError(str(error)) from error
        try:
            pledges.check_amount(money, self.campaign.currency)
        except pledges.PledgeError as error:
            raise ValidationError(str(error)) from error
        self.money = money

    def validate_instalments(self, field: StringField) -> None:
        recurring = self.frequency.data != Frequency.ONE_OFF.value
        number = field.data or ""
        if recurring and number.isascii() and number.isdigit() and not 2 <= int(number) <= pledges.MAX_INSTALMENTS:
            raise ValidationError(f"Enter a number of payments between 2 and {pledges.MAX_INSTALMENTS}")

    def validate_consent(self, field: BooleanField) -> None:
        needs_consent = self.is_conditional or self.frequency.data != Frequency.ONE_OFF.value
        if needs_consent and not field.data:
            raise ValidationError("Confirm that we may charge your card later")


class ConfirmCardForm(FlaskForm):
    """Posted by the card page once Stripe.js has saved the card."""

    setup_intent = HiddenField(validators=[InputRequired(), Regexp(r"^seti_[A-Za-z0-9_]{1,200}$")])


class ActionForm(FlaskForm):
    """A bare form for a button that changes something (CSRF-protected)."""

    submit = SubmitField("Continue", widget=GovSubmitInput())


class UpdatesChoiceForm(FlaskForm):
    """A button that stops (or restarts) a campaign's update emails to one address."""

    wants_updates = HiddenField(validators=[InputRequired(), AnyOf(["yes", "no"])])

    @property
    def wants(self) -> bool:
        return self.wants_updates.data == "yes"


class MyPledgesLinkForm(FlaskForm):
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter your email address"),
            Length(max=254, message="Email address must be 254 characters or fewer"),
            Email(message="Enter an email address in the correct format, like name@example.org"),
        ],
    )
    submit = SubmitField("Send me a link", widget=GovSubmitInput())
