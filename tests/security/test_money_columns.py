"""Money in the database: whole pence in integer columns, and amounts a person enters kept > 0 by
the database itself, whatever a form lets through (plan A)."""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, CheckConstraint, Integer, Table, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from tests.factories import make_route_world

# Columns holding one amount someone typed or was charged (the rest are running totals).
ENTERED = ("amount_pence", "cap_pence", "target_pence", "commitment_pence")
# Roll-ups of the ledger, rebuilt from it (app/ledger/rollups.py), hold sums, not entered amounts.
ROLLUPS = ("campaign_day", "campaign_group")


def _money_columns() -> list[tuple[Table, str]]:
    return [(t, c.name) for t in db.metadata.sorted_tables for c in t.columns if c.name.endswith("_pence")]


def test_every_money_column_is_whole_pence() -> None:
    columns = _money_columns()
    assert len(columns) >= 15
    wrong = [f"{t.name}.{name}: {t.c[name].type}" for t, name in columns if not isinstance(t.c[name].type, Integer)]
    assert not wrong, f"money must be integer pence: {wrong}"
    assert all(isinstance(t.c[name].type, (Integer, BigInteger)) for t, name in columns)


def test_every_entered_amount_has_a_positive_check() -> None:
    entered = [(t, name) for t, name in _money_columns() if name in ENTERED and t.name not in ROLLUPS]
    assert len(entered) >= 8
    missing = [
        f"{t.name}.{name}"
        for t, name in entered
        if not any(isinstance(c, CheckConstraint) and f"{name} > 0" in str(c.sqltext) for c in t.constraints)
    ]
    assert not missing, f"no CHECK ({{column}} > 0) on {missing}"


@pytest.mark.parametrize("value", [0, -1])
def test_the_database_refuses_a_zero_or_negative_amount_where_rows_exist(value: int) -> None:
    make_route_world()
    tried = []
    for table, name in _money_columns():
        if name not in ENTERED or table.name in ROLLUPS or not db.session.execute(table.select().limit(1)).first():
            continue
        savepoint = db.session.begin_nested()
        with pytest.raises(IntegrityError, match=r"(?i)check|constraint"):
            db.session.execute(update(table).values({name: value}))
        savepoint.rollback()
        tried.append(f"{table.name}.{name}")
    db.session.rollback()
    assert len(tried) >= 4, tried
