"""Validators and fields shared by the forms of every area."""

from __future__ import annotations

from wtforms.validators import Regexp

# Control characters (NUL and the like) have no place in anything a person types into our forms.
NO_CONTROL_CHARACTERS = Regexp(r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$", message="Remove the unusual characters")
