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


class SignOutEverywhereForm(FlaskForm):
    submit = SubmitField("Sign out on every device", widget=GovSubmitInput())


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        widget=GovPasswordInput(),
        validators=[
            InputRequired(message="Enter your current password"),
            Length(max=256, message="Password must be 256 characters or fewer"),
        ],
    )
    new_password = PasswordField(
        "New password",
        widget=GovPasswordInput(),
        description="At least 12 characters. A few unrelated words make a good one.",
        validators=[InputRequired(message="Enter a new password")],
    )
    confirm = PasswordField(
        "Type the new password again",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Type the new password again")],
    )
    submit = SubmitField("Change password", widget=GovSubmitInput())
