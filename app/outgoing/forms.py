from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxesInput, GovSubmitInput, GovTextInput
from wtforms import SelectMultipleField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from app.forms import NO_CONTROL_CHARACTERS
from app.outgoing.events import EVENT_TYPES


class EndpointForm(FlaskForm):
    url = StringField(
        "Address to send events to",
        widget=GovTextInput(),
        description="It must start with https://. For example, https://crm.example.org/pledgeline-events",
        validators=[
            InputRequired(message="Enter the address to send events to"),
            Length(max=500, message="The address must be 500 characters or fewer"),
            NO_CONTROL_CHARACTERS,
        ],
    )
    description = StringField(
        "What it is for (optional)",
        widget=GovTextInput(),
        description="So that others know whose system this is. For example, Finance team's CRM",
        validators=[Length(max=200, message="The description must be 200 characters or fewer"), NO_CONTROL_CHARACTERS],
    )
    events = SelectMultipleField(
        "Events to send",
        widget=GovCheckboxesInput(),
        choices=[SelectChoice(name, f"{name}: {label}") for name, label in EVENT_TYPES.items()],
        validators=[InputRequired(message="Choose at least one event to send")],
    )
    submit = SubmitField("Register the endpoint", widget=GovSubmitInput())


class DisableForm(FlaskForm):
    submit = SubmitField("Stop sending events to it", widget=GovSubmitInput())
