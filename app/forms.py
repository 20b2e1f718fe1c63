"""Validators and fields shared by the forms of every area."""

from __future__ import annotations

from wtforms import DateField
from wtforms.validators import Regexp

# Control characters (NUL and the like) have no place in anything a person types into our forms.
NO_CONTROL_CHARACTERS = Regexp(r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$", message="Remove the unusual characters")

# The one-time tokens our forms carry (secrets.token_urlsafe(24) makes 32 such characters).
FORM_TOKEN_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"  # noqa: S105 - a pattern, not a secret
# A submission token is how a form sent twice makes one pledge: it must be one we could have made.
SUBMISSION_TOKEN = Regexp(FORM_TOKEN_PATTERN, message="The form had expired. Refresh the page and try again.")


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
