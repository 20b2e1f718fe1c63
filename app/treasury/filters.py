"""The treasurer's filter, search and export forms. All are sent by GET (they change nothing), so
their choices sit in the address bar and a filtered page can be bookmarked or shared."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxInput, GovRadioInput, GovSelect, GovTextInput
from wtforms import BooleanField, Field, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from app.models import Frequency, PaymentMethod, PledgerKind, PledgeStatus
from app.treasury.dashboard import AuditFilters, PledgeFilters
from app.treasury.exports import EXPORTS

ANY = ""
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})[\s/.-]+(\d{1,2})[\s/.-]+(\d{4})$")
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}


def parse_date(text: str) -> date | None:
    """A date typed as 1 4 2027, 1/4/2027, 2027-04-01 or 1 April 2027; None if it is not one."""
    text = " ".join(text.strip().split())
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
        match = _DAY_MONTH_YEAR.match(text)
        if match:
            return date(int(match[3]), int(match[2]), int(match[1]))
        parts = text.replace(",", " ").split()
        if len(parts) == 3 and parts[0].isdigit() and parts[2].isdigit() and parts[1].lower() in _MONTHS:
            return date(int(parts[2]), _MONTHS[parts[1].lower()], int(parts[0]))
    except ValueError:
        return None
    return None


class TypedDateField(StringField):
    """A date in one text box, for filters: forgiving about how it is written, clear when it is wrong."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", GovTextInput())
        kwargs.setdefault("description", "For example, 1 4 2027")
        kwargs.setdefault("validators", [Optional(), Length(max=30, message="Enter a real date, like 1 4 2027")])
        super().__init__(*args, **kwargs)
        self.date: date | None = None

    def pre_validate(self, form: Any) -> None:
        self.date = None
        if self.data and self.data.strip():
            self.date = parse_date(self.data)
            if self.date is None or not 2000 <= self.date.year <= 2099:
                self.date = None
                raise ValidationError(f"Enter {self.label.text.lower()} as a real date, like 1 4 2027")


def _choices(labels: Sequence[tuple[str, str]], any_label: str | None = None) -> list[SelectChoice]:
    """Choices for a select or radios; with `any_label`, an empty first choice meaning "any"."""
    first = [SelectChoice(ANY, any_label)] if any_label is not None else []
    return first + [SelectChoice(value, label) for value, label in labels]


class ListField(SelectField):
    """A select whose wrong value (from an edited address, say) gets a plain-English error."""

    def pre_validate(self, form: Any) -> None:
        if self.data not in {choice.value for choice in self.choices or ()}:  # type: ignore[union-attr]
            raise ValidationError(f"Choose {self.label.text.lower()} from the list")


def choice_label(field: SelectField, value: str) -> str:
    for choice in field.choices or ():  # type: ignore[union-attr]
        if choice.value == value:
            return str(choice.label)
    return value


class _GetForm(FlaskForm):
    class Meta:
        csrf = False  # sent by GET and changes nothing


class PledgeFilterForm(_GetForm):
    q = StringField(
        "Search",
        widget=GovTextInput(),
        description="A reference like PL-000123, a name, an email address, a council or a purchase order number",
        validators=[Optional(), Length(max=200, message="Search for 200 characters or fewer")],
    )
    status = ListField(
        "Status",
        widget=GovSelect(),
        choices=_choices([(s.value, s.label) for s in PledgeStatus], "Any status"),
        default=ANY,
    )
    kind = ListField(
        "Pledged by",
        widget=GovSelect(),
        choices=_choices(
            [
                (PledgerKind.COUNCIL.value, "Councils"),
                (PledgerKind.INDIVIDUAL.value, "Individuals"),
                (PledgerKind.SPONSOR.value, "Sponsors"),
            ],
            "Anyone",
        ),
        default=ANY,
    )
    method = ListField(
        "Paying by",
        widget=GovSelect(),
        choices=_choices(
            [
                (PaymentMethod.CARD.value, "Card"),
                (PaymentMethod.INVOICE.value, "Invoice"),
                (PaymentMethod.BANK_TRANSFER.value, "Bank transfer"),
            ],
            "Any method",
        ),
        default=ANY,
    )
    frequency = ListField(
        "How often",
        widget=GovSelect(),
        choices=_choices([(f.value, f.label) for f in Frequency], "Any frequency"),
        default=ANY,
    )
    conditional = ListField(
        "Conditional",
        widget=GovSelect(),
        choices=_choices([("yes", "Conditional only"), ("no", "Unconditional only")], "Either"),
        default=ANY,
    )
    overdue = BooleanField("Only pledges with an overdue invoice", widget=GovCheckboxInput())
    sort = ListField(
        "Sort by",
        widget=GovSelect(),
        choices=_choices(
            [
                ("newest", "Newest first"),
                ("oldest", "Oldest first"),
                ("largest", "Largest pledge first"),
                ("smallest", "Smallest pledge first"),
            ],
        ),
        default="newest",
    )

    def filters(self) -> PledgeFilters:
        """What was chosen (call after `validate()`; a choice that failed validation counts as "any")."""

        def chosen(field: Field, kind: Any) -> Any:
            return kind(field.data) if field.data and not field.errors else None

        return PledgeFilters(
            status=chosen(self.status, PledgeStatus),
            kind=chosen(self.kind, PledgerKind),
            method=chosen(self.method, PaymentMethod),
            frequency=chosen(self.frequency, Frequency),
            conditional={"yes": True, "no": False}.get(self.conditional.data or "")
            if not self.conditional.errors
            else None,
            overdue=bool(self.overdue.data),
            search=(self.q.data or "").strip() if not self.q.errors else "",
            sort=self.sort.data if self.sort.data and not self.sort.errors else "newest",
        )

    def sort_label(self) -> str:
        return choice_label(self.sort, self.filters().sort)

    def active(self) -> list[tuple[str, str]]:
        """The filters in force, as (what, chosen) for a summary above the table."""
        shown = []
        for field in (self.status, self.kind, self.method, self.frequency, self.conditional):
            if field.data and not field.errors:
                shown.append((field.label.text, choice_label(field, field.data)))
        if self.overdue.data:
            shown.append(("Overdue", "Overdue invoices only"))
        if self.q.data and not self.q.errors:
            shown.append(("Search", self.q.data.strip()))
        return shown


class AuditFilterForm(_GetForm):
    action = SelectField("Action", widget=GovSelect(), default=ANY, validate_choice=False)
    actor = StringField(
        "Who",
        widget=GovTextInput(),
        description="Part of a name or email address, or “system” for automatic jobs",
        validators=[Optional(), Length(max=200, message="Enter 200 characters or fewer")],
    )
    date_from = TypedDateField("From")
    date_to = TypedDateField("To")

    def __init__(self, *args: Any, actions: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.action.choices = _choices([(a, a) for a in actions], "Any action")
        self._actions = set(actions)

    def validate_action(self, field: Field) -> None:
        if field.data and field.data not in self._actions:
            raise ValidationError("Choose an action from the list")

    def validate_date_to(self, field: Field) -> None:
        if self.date_from.date and self.date_to.date and self.date_to.date < self.date_from.date:
            raise ValidationError("The end date must be the same as or after the start date")

    def filters(self) -> AuditFilters:
        return AuditFilters(
            action=(self.action.data or "") if not self.action.errors else "",
            actor=(self.actor.data or "") if not self.actor.errors else "",
            date_from=self.date_from.date,
            date_to=self.date_to.date if not self.date_to.errors else None,
        )


class ExportForm(_GetForm):
    kind = RadioField(
        "What to export",
        widget=GovRadioInput(),
        choices=_choices([(name, export.label) for name, export in EXPORTS.items()]),
        default="pledges",
        validators=[InputRequired(message="Choose what to export")],
    )
    date_from = TypedDateField("From", description="For example, 1 4 2027")
    date_to = TypedDateField("To", description="For example, 31 3 2028")

    def validate_date_to(self, field: Field) -> None:
        if self.date_from.date and self.date_to.date and self.date_to.date < self.date_from.date:
            raise ValidationError("The end date must be the same as or after the start date")
