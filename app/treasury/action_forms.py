"""Forms for the treasurer's money actions and reconciliation. Each carries a one-time token.

The token is made when the confirmation page is shown and sent back with the form, so the same
form submitted twice (a double click, a resubmitted page) is recognised and done once.
"""

from __future__ import annotations

import secrets

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxInput, GovDateInput, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import BooleanField, HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp, StopValidation, ValidationError

from app.forms import FORM_TOKEN_PATTERN, NO_CONTROL_CHARACTERS, DayMonthYearField
from app.money import Money, MoneyError

TOKEN = Regexp(FORM_TOKEN_PATTERN, message="This form has expired. Open the page again and start over.")
AMOUNT_LENGTH = 20


def new_token() -> str:
    return secrets.token_urlsafe(24)


class ActionForm(FlaskForm):
    """A confirmation: the page says what will happen; submitting this form does it, once."""

    token = HiddenField(validators=[InputRequired(message="This form has expired. Open the page again."), TOKEN])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if not self.is_submitted():
            self.token.data = new_token()


def _reason(label: str, hint: str, missing: str) -> TextAreaField:
    return TextAreaField(
        label,
        widget=GovTextArea(),
        description=hint,
        validators=[
            # DataRequired, not InputRequired: a reason of only spaces (no-break, em, tab) is no reason.
            DataRequired(message=missing),
            Length(max=500, message="Reason must be 500 characters or fewer"),
            NO_CONTROL_CHARACTERS,
        ],
    )


class AmountField(StringField):
    """Pounds typed by a person ("2,500.50"); `money` holds the parsed amount once validated."""

    def __init__(
        self, *args: object, currency: str = "GBP", missing: str = "Enter an amount", **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.currency = currency
        self.missing = missing
        self.money: Money | None = None

    def pre_validate(self, form: object) -> None:
        self.money = None
        text = (self.data or "").strip()
        if not text:
            # Spaces alone (a tab, a no-break space) get past InputRequired: refuse them here too.
            raise StopValidation(self.missing)
        try:
            self.money = Money.parse(text, self.currency)
        except MoneyError as error:
            raise ValidationError(str(error)) from error
        if self.money.pence <= 0:
            raise ValidationError("Enter an amount greater than zero")


def _amount(label: str, missing: str) -> AmountField:
    return AmountField(
        label,
        missing=missing,
        widget=GovTextInput(),
        description="In pounds, for example 25 or 2,500.50.",
        validators=[InputRequired(message=missing), Length(max=AMOUNT_LENGTH, message="Enter the amount in pounds")],
    )


class RefundForm(ActionForm):
    amount = _amount("How much should be refunded?", "Enter how much to refund")
    reason = _reason(
        "Why is it being refunded?",
        "This is kept in the audit log. The pledger is told the amount, not the reason.",
        "Enter the reason for the refund",
    )
    end_pledge = BooleanField(
        "Mark the pledge refunded, so it no longer counts toward the target "
        "(only when every payment of the pledge is refunded in full)",
        widget=GovCheckboxInput(),
    )
    submit = SubmitField("Refund through Stripe", widget=GovSubmitInput())


class CancelPledgeForm(ActionForm):
    reason = _reason(
        "Why is the pledge being cancelled?",
        "This is kept in the pledge's history and the audit log.",
        "Enter the reason for cancelling the pledge",
    )
    submit = SubmitField("Cancel the pledge", widget=GovSubmitInput())


class SendForm(ActionForm):
    """Resend a receipt or invoice, or send a reminder: nothing to fill in but the button."""

    submit = SubmitField("Send it now", widget=GovSubmitInput())


class BankTransferForm(ActionForm):
    amount = _amount("How much arrived?", "Enter how much arrived")
    received_on = DayMonthYearField(
        "When did it arrive?",
        message="Enter the date it arrived as a real date, like 27 3 2027",
        widget=GovDateInput(),
        description="As on the bank statement. For example, 27 3 2027.",
        validators=[InputRequired(message="Enter the date it arrived as a real date, like 27 3 2027")],
    )
    reference = StringField(
        "Bank reference",
        widget=GovTextInput(),
        description="The reference the payment arrived with, usually the invoice number.",
        validators=[
            InputRequired(message="Enter the bank reference the payment arrived with"),
            Length(max=140, message="The bank reference must be 140 characters or fewer"),
            NO_CONTROL_CHARACTERS,
        ],
    )
    submit = SubmitField("Record the bank transfer", widget=GovSubmitInput())


class RunReconciliationForm(ActionForm):
    submit = SubmitField("Run reconciliation now", widget=GovSubmitInput())


class ApplyForm(ActionForm):
    note = TextAreaField(
        "Note (optional)",
        widget=GovTextArea(),
        description="Kept in the audit log with the change.",
        validators=[
            Optional(),
            Length(max=1000, message="Note must be 1,000 characters or fewer"),
            NO_CONTROL_CHARACTERS,
        ],
    )
    submit = SubmitField("Apply Stripe's state to our payment", widget=GovSubmitInput())


class ExplainForm(ActionForm):
    note = TextAreaField(
        "What explains this difference?",
        widget=GovTextArea(),
        description="Kept in the audit log. A later run that finds exactly this difference shows it as explained.",
        validators=[
            InputRequired(message="Enter what explains this difference"),
            Length(max=1000, message="Note must be 1,000 characters or fewer"),
            NO_CONTROL_CHARACTERS,
        ],
    )
    submit = SubmitField("Mark as explained", widget=GovSubmitInput())
