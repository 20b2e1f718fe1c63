"""Finding the POST forms the app serves and what a valid submission of each looks like."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

from sqlalchemy import select

from app.extensions import db

# Inputs a person does not type into: kept as the page sent them in every submission.
FIXED_TYPES = {"hidden", "submit", "button", "image", "reset", "file"}


@dataclass
class Field:
    name: str
    kind: str  # text, email, number, password, textarea, select, radio, checkbox, hidden, ...
    value: str = ""  # what the page filled in (the checked radio, the selected option, ...)
    options: list[str] = field(default_factory=list)
    maxlength: int | None = None
    boxes: int = 1  # a GOV.UK date input is three boxes of one name: day, month, year
    filled: list[str] = field(default_factory=list)  # each box's value, for a field of several boxes

    @property
    def editable(self) -> bool:
        return self.kind not in FIXED_TYPES

    @property
    def typed(self) -> bool:
        """A box a person types into (not a choice from a list)."""
        return self.kind not in FIXED_TYPES | {"select", "radio", "checkbox"}


@dataclass
class Form:
    action: str
    fields: dict[str, Field] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._textarea: Field | None = None

    def _add(self, item: Field) -> Field:
        assert self._form is not None
        existing = self._form.fields.get(item.name)
        if existing is None:
            self._form.fields[item.name] = item
            return item
        if item.kind not in ("radio", "checkbox"):
            if existing.boxes == 1:
                existing.filled = [existing.value]
            existing.boxes += 1
            existing.filled.append(item.value)
            return existing
        # Radios and checkboxes share a name: one field with several options.
        existing.options.extend(item.options)
        if item.value and not existing.value:
            existing.value = item.value
        return existing

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            if a.get("method", "get").lower() == "post":
                self._form = Form(action=a.get("action", ""))
                self.forms.append(self._form)
            return
        if tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._select.options.append(value)
            if "selected" in a:
                self._select.value = value
            return
        if self._form is None or not a.get("name"):
            return
        name = a["name"]
        maxlength = int(a["maxlength"]) if a.get("maxlength", "").isdigit() else None
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("radio", "checkbox"):
                self._add(Field(name, kind, a.get("value", "on") if "checked" in a else "", [a.get("value", "on")]))
            else:
                self._add(Field(name, kind, a.get("value", ""), maxlength=maxlength))
        elif tag == "textarea":
            self._textarea = self._add(Field(name, "textarea", "", maxlength=maxlength))
        elif tag == "select":
            self._select = self._add(Field(name, "select"))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def post_form(html: str, path: str) -> Form | None:
    """The form on the page that posts to `path` (an empty action posts to the page itself)."""
    parser = _FormParser()
    parser.feed(html)
    for form in parser.forms:
        if form.action in ("", path) or urlsplit(form.action).path == path:
            return form
    return None


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in primary-key order: compared before and after each submission."""
    db.session.rollback()
    rows = {}
    for table in db.metadata.sorted_tables:
        order = list(table.primary_key.columns) or list(table.columns)
        rows[table.name] = [tuple(r) for r in db.session.execute(select(table).order_by(*order)).all()]
    db.session.rollback()
    return rows


def changed_tables(
    before: dict[str, list[tuple[object, ...]]], after: dict[str, list[tuple[object, ...]]]
) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]
