"""The form an invoice's card payment page posts once Stripe.js has accepted the card."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import InputRequired, Regexp


class InvoiceCardForm(FlaskForm):
    """Posted by an invoice's card payment page once Stripe.js has accepted the card.

    `expected_pence` is the balance the page showed: the server charges its own balance, and
    refuses (charging nothing) if that is no longer what the payer agreed to.
    """

    setup_intent = HiddenField(validators=[InputRequired(), Regexp(r"^seti_[A-Za-z0-9_]{1,200}$")])
    expected_pence = HiddenField(validators=[InputRequired(), Regexp(r"^[0-9]{1,12}$")])
