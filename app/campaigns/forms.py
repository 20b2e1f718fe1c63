from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovDateInput, GovSubmitInput, GovTextArea
from wtforms import SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length

from app.forms import NO_CONTROL_CHARACTERS, DayMonthYearField

LONDON = ZoneInfo("Europe/London")


class CloseEarlyForm(FlaskForm):
    reason = TextAreaField(
        "Why are you closing the campaign early?",
        widget=GovTextArea(),
        description="This is kept in the audit log.",
        validators=[
            InputRequired(message="Enter the reason for closing the campaign early"),
            Length(max=500, message="Reason must be 500 characters or fewer"),
            NO_CONTROL_CHARACTERS,
        ],
    )
    submit = SubmitField("Close the campaign now", widget=GovSubmitInput())


class ExtendForm(FlaskForm):
    closes_on = DayMonthYearField(
        "New closing date",
        message="Enter the new closing date as a real date, like 31 1 2027",
        widget=GovDateInput(),
        description="The campaign will close at 11:59pm UK time on this day. For example, 31 1 2027.",
        validators=[InputRequired(message="Enter the new closing date as a real date, like 31 1 2027")],
    )
    reason = TextAreaField(
        "Why are you extending the deadline?",
        widget=GovTextArea(),
        description="This is kept in the audit log and pledgers can see the new date.",
        validators=[
            InputRequired(message="Enter the reason for extending the deadline"),
            Length(max=500, message="Reason must be 500 characters or fewer"),
            NO_CONTROL_CHARACTERS,
        ],
    )
    submit = SubmitField("Extend the deadline", widget=GovSubmitInput())

    @property
    def new_close(self) -> datetime:
        assert self.closes_on.data is not None  # noqa: S101 - validated
        return datetime.combine(self.closes_on.data, time(23, 59), tzinfo=LONDON)
