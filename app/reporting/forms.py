"""Forms for recording what the funded role achieved, where the money went, and updates.

They check what was typed; the rules live in `reporting.impact`.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovDateInput, GovSelect, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from app.forms import NO_CONTROL_CHARACTERS, DayMonthYearField
from app.models import ImpactMetric, OutgoingCategory
from app.money import Money, MoneyError
from app.reporting import impact

NO_CONTROL_IN_TEXT = NO_CONTROL_CHARACTERS  # the same: tabs and line breaks are allowed by both


class ImpactEntryForm(FlaskForm):
    metric = SelectField(
        "What did the role achieve?",
        widget=GovSelect(),
        validate_choice=False,  # validate_metric says it more plainly
        choices=[SelectChoice("", "Choose a measure")] + [SelectChoice(m.value, m.label) for m in ImpactMetric],
        validators=[InputRequired(message="Choose what the figure measures")],
    )
    value = IntegerField(
        "How many?",
        widget=GovTextInput(),
        description="A whole number. For members, the total on that date; for the others, how many "
        "since the last figure you recorded.",
        validators=[
            InputRequired(message="Enter how many, as a whole number"),
            NumberRange(min=0, max=1_000_000, message="Enter a whole number from 0 to 1,000,000"),
        ],
    )
    recorded_on = DayMonthYearField(
        "Date",
        message="Enter the date as day, month and year, like 30 6 2027",
        description="For example, 30 6 2027",
        widget=GovDateInput(),
    )
    note = StringField(
        "Note (optional)",
        widget=GovTextInput(),
        validators=[Optional(), Length(max=300, message="Note must be 300 characters or fewer"), NO_CONTROL_CHARACTERS],
    )
    submit = SubmitField("Record this figure", widget=GovSubmitInput())

    def validate_metric(self, field: SelectField) -> None:
        if field.data not in {m.value for m in ImpactMetric}:
            raise ValidationError("Choose what the figure measures from the list")


class StoryForm(FlaskForm):
    title = StringField(
        "Title",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter a title"),
            Length(max=200, message="Title must be 200 characters or fewer"),
            NO_CONTROL_CHARACTERS,
        ],
    )
    text = TextAreaField(
        "The story",
        widget=GovTextArea(),
        description="A few sentences: what happened, who took part, what changed. Shown as plain text.",
        validators=[
            InputRequired(message="Enter the story"),
            Length(max=5000, message="The story must be 5,000 characters or fewer"),
            NO_CONTROL_IN_TEXT,
        ],
    )
    link = StringField(
        "Link to read more (optional)",
        widget=GovTextInput(),
        description="A web address starting with https://",
        validators=[Optional(), Length(max=500, message="The link must be 500 characters or fewer")],
    )
    published_on = DayMonthYearField(
        "Date",
        message="Enter the date as day, month and year, like 30 6 2027",
        description="For example, 30 6 2027",
        widget=GovDateInput(),
    )
    submit = SubmitField("Add this story", widget=GovSubmitInput())

    def validate_link(self, field: StringField) -> None:
        if field.errors:
            return
        try:
            impact.check_link(field.data)
        except impact.ImpactError as error:
            raise ValidationError(str(error)) from error


class OutgoingForm(FlaskForm):
    category = SelectField(
        "What kind of spending?",
        widget=GovSelect(),
        validate_choice=False,  # validate_category says it more plainly
        choices=[SelectChoice("", "Choose a category")] + [SelectChoice(c.value, c.label) for c in OutgoingCategory],
        validators=[InputRequired(message="Choose a category")],
    )
    amount = StringField(
        "Amount",
        widget=GovTextInput(),
        description="In pounds, for example 3,950.00",
        validators=[
            InputRequired(message="Enter the amount spent"),
            Length(max=20, message="Enter the amount in pounds, like 3950.00"),
        ],
    )
    description = StringField(
        "What was it for?",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter what the money was spent on"),
            Length(max=300, message="Description must be 300 characters or fewer"),
            NO_CONTROL_CHARACTERS,
        ],
    )
    spent_on = DayMonthYearField(
        "Date spent",
        message="Enter the date as day, month and year, like 30 6 2027",
        description="For example, 30 6 2027",
        widget=GovDateInput(),
    )
    submit = SubmitField("Record this outgoing", widget=GovSubmitInput())

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.money: Money | None = None

    def validate_category(self, field: SelectField) -> None:
        if field.data not in {c.value for c in OutgoingCategory}:
            raise ValidationError("Choose a category from the list")

    def validate_amount(self, field: StringField) -> None:
        if field.errors:
            return
        try:
            money = Money.parse(field.data or "")
        except MoneyError as error:
            raise ValidationError(str(error).rstrip(".")) from error
        if money.pence <= 0:
            raise ValidationError("Enter an amount more than zero")
        self.money = money


class UpdateForm(FlaskForm):
    title = StringField(
        "Title",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter a title"),
            Length(max=200, message="Title must be 200 characters or fewer"),
            NO_CONTROL_CHARACTERS,
        ],
    )
    body = TextAreaField(
        "The update",
        widget=GovTextArea(),
        description="Shown on the campaign page as plain text. You can email it to pledgers afterwards.",
        validators=[
            InputRequired(message="Enter the update"),
            Length(max=10_000, message="The update must be 10,000 characters or fewer"),
            NO_CONTROL_IN_TEXT,
        ],
    )
    submit = SubmitField("Publish this update", widget=GovSubmitInput())


class ConfirmForm(FlaskForm):
    submit = SubmitField("Email this update to pledgers", widget=GovSubmitInput())


class ReportLinkForm(FlaskForm):
    period = StringField(
        "Financial year (optional)",
        widget=GovTextInput(),
        description="Like 2027-28. Leave it empty for the campaign's funding period.",
        validators=[Optional(), Length(max=9, message="Enter the financial year like 2027-28")],
    )
    days = IntegerField(
        "How many days should the link work?",
        widget=GovTextInput(),
        description="From 1 to 90 days.",
        default=30,
        validators=[
            InputRequired(message="Enter how many days the link should work"),
            NumberRange(min=1, max=90, message="Enter a number of days from 1 to 90"),
        ],
    )
    submit = SubmitField("Create the link", widget=GovSubmitInput())
