from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovDateInput, GovRadioInput, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import RadioField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from app.forms import NO_CONTROL_CHARACTERS, DayMonthYearField
from app.models import FundingModel

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


class CampaignForm(FlaskForm):
    """The campaign's details. Only shape is checked here; `campaigns.admin.parse` has the rules."""

    title = StringField("Title", widget=GovTextInput(), validators=[NO_CONTROL_CHARACTERS])
    slug = StringField(
        "Web address",
        widget=GovTextInput(),
        description="The end of the campaign's address: /campaigns/pipeline-2027-28. "
        "Lower-case letters, numbers and hyphens. It cannot change once the campaign is published.",
        validators=[NO_CONTROL_CHARACTERS],
    )
    summary = TextAreaField(
        "Summary",
        widget=GovTextArea(),
        description="One or two sentences, shown under the title and in the list of campaigns.",
        validators=[NO_CONTROL_CHARACTERS],
    )
    body = TextAreaField(
        "Description",
        widget=GovTextArea(),
        description="Why the campaign matters and what the money pays for. Leave a blank line between paragraphs.",
    )
    target = StringField("Target", widget=GovTextInput(), description="In pounds, for example 45,000.")
    min_councils = StringField(
        "Minimum number of councils",
        widget=GovTextInput(),
        description="The campaign only succeeds if at least this many councils pledge. Enter 0 for no minimum.",
        default="0",
    )
    funding_model = RadioField(
        "Funding model",
        widget=GovRadioInput(),
        choices=[
            SelectChoice(FundingModel.ALL_OR_NOTHING.value, "All or nothing: pledges only count if the target is met"),
            SelectChoice(FundingModel.KEEP_WHAT_YOU_RAISE.value, "Keep what you raise: every pledge counts"),
        ],
        default=FundingModel.ALL_OR_NOTHING.value,
        validate_choice=False,  # campaigns.admin.parse says what is wrong, in words
    )
    closes_on = DayMonthYearField(
        "Deadline",
        message="Enter the deadline as a real date, like 31 3 2027",
        widget=GovDateInput(),
        description="Pledges are taken until 11:59pm UK time on this day. For example, 31 3 2027.",
    )
    funding_period = StringField(
        "Funding period",
        widget=GovTextInput(),
        description="The financial year the money pays for, like 2027-28, or a range, like 2027-28 to 2028-29.",
    )
    annual_cost = StringField(
        "Annual cost of the role (optional)",
        widget=GovTextInput(),
        description="What the funded role costs a year, in pounds. Used to show months of runway.",
    )
    max_sponsor_share = StringField(
        "Largest share one sponsor may hold",
        widget=GovTextInput(),
        description="A percentage of the target. It keeps the campaign impartial. For example, 25.",
        default="25",
    )
    submit = SubmitField("Save", widget=GovSubmitInput())

    def raw(self) -> dict[str, object]:
        return {name: field.data for name, field in self._fields.items() if name not in ("csrf_token", "submit")}


class CancelDraftForm(FlaskForm):
    reason = TextAreaField(
        "Why are you cancelling this draft?",
        widget=GovTextArea(),
        description="This is kept in the audit log.",
        validators=[
            InputRequired(message="Enter the reason for cancelling the draft"),
            Length(max=500, message="Reason must be 500 characters or fewer"),
            NO_CONTROL_CHARACTERS,
        ],
    )
    submit = SubmitField("Cancel the draft", widget=GovSubmitInput())


class PublishForm(FlaskForm):
    submit = SubmitField("Publish the campaign", widget=GovSubmitInput())
