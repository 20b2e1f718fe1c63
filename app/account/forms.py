from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxInput, GovPasswordInput, GovSubmitInput, GovTextInput
from wtforms import BooleanField, HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import Email, InputRequired, Length


def _strip(value: object) -> object:
    # Pasted or autofilled addresses often carry spaces; the Email check would refuse them.
    return value.strip() if isinstance(value, str) else value


class SignInForm(FlaskForm):
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        filters=[_strip],
        validators=[
            InputRequired(message="Enter your email address"),
            Length(max=254, message="Email address must be 254 characters or fewer"),
            Email(message="Enter an email address in the correct format, like name@example.org"),
        ],
    )
    password = PasswordField(
        "Password",
        widget=GovPasswordInput(),
        validators=[
            InputRequired(message="Enter your password"),
            Length(max=256, message="Password must be 256 characters or fewer"),
        ],
    )
    remember = BooleanField("Keep me signed in on this device for 30 days", widget=GovCheckboxInput())
    next = HiddenField()
    submit = SubmitField("Sign in", widget=GovSubmitInput())


class SignOutForm(FlaskForm):
    submit = SubmitField("Sign out", widget=GovSubmitInput())
