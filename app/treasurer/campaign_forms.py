from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovDateInput, GovSubmitInput, GovTextArea
from wtforms import DateField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length

from app.form_fields import NO_CONTROL_CHARACTERS

LONDON = ZoneInfo("Europe/London")


class DayMonthYearField(DateField):
    """A date typed as day, month and year boxes (GOV.UK date input), with a plain-English error."""

    def __init__(self, *args: object, message: str, **kwargs: object) -> None:
        super().__init__(*args, format="%d %m %Y", **kwargs)  # type: ignore[arg-type]
        self.message = message

    def process_formdata(self, valuelist: list[str]) -> None:
        if len(valuelist) != 3:
            # The three boxes did not all arrive: show three (empty) boxes again, with the error.
            self.raw_data = [*valuelist, "", "", ""][:3]
            raise ValueError(self.message)
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(self.message) from error


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
