"""The append-only audit log."""

from __future__ import annotations

from typing import Any

from app.extensions import db
from app.models import AuditEntry, User


def record(
    action: str,
    *,
    actor: User | None = None,
    target: Any = None,
    summary: str = "",
    detail: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEntry:
    """Add an audit entry to the current transaction (it commits or rolls back with the change)."""
    entry = AuditEntry(
        action=action,
        actor_id=actor.id if actor is not None else None,
        target_type=type(target).__tablename__ if target is not None else None,
        target_id=getattr(target, "id", None),
        summary=summary,
        detail=detail or {},
        ip_address=ip_address,
    )
    db.session.add(entry)
    return entry
