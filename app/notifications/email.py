"""Email: queued in the transaction that causes it, delivered after that transaction commits.

With MAIL_SERVER set, mail goes over SMTP; otherwise (the demo) each message is written to
`instance/outbox/` as an .eml file and its subject is logged.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage as MIMEMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from flask import current_app, render_template
from sqlalchemy import select, update

from app.database import write_transaction
from app.extensions import db
from app.models import EmailMessage, EmailStatus, Pledge, utcnow

log = logging.getLogger(__name__)


def queue(kind: str, to: str, subject: str, *, pledge: Pledge | None = None, **context: Any) -> EmailMessage:
    """Add a message to the outbox in the current transaction; `emails/<kind>.txt` is its body."""
    body = render_template(f"emails/{kind}.txt", pledge=pledge, **context)
    message = EmailMessage(
        kind=kind, to_address=to, subject=subject, body=body, pledge_id=pledge.id if pledge else None
    )
    db.session.add(message)
    return message


def commit_and_deliver() -> None:
    """Commit the current transaction, then have a worker deliver whatever it queued (never in this request)."""
    from app import jobs

    db.session.commit()
    jobs.deliver_email_soon()


def deliver_queued(limit: int = 100) -> int:
    """Send queued messages. Each is claimed with a conditional UPDATE, so it goes out once."""
    ids = list(
        db.session.scalars(
            select(EmailMessage.id)
            .where(EmailMessage.status == EmailStatus.QUEUED)
            .order_by(EmailMessage.id)
            .limit(limit)
        )
    )
    sent = 0
    for message_id in ids:
        if not _set_status(message_id, EmailStatus.SENDING, only_if=EmailStatus.QUEUED):
            continue  # another process is sending it
        message = db.session.get_one(EmailMessage, message_id)
        db.session.refresh(message)
        mime, kind, pledge_id = _mime(message), message.kind, message.pledge_id
        db.session.commit()
        try:
            _send(mime, message_id, kind)
        except (OSError, smtplib.SMTPException) as error:
            _set_status(message_id, EmailStatus.FAILED, error=f"{type(error).__name__}: {error}"[:500])
            log.warning("email %s to pledge %s failed: %s", message_id, pledge_id, type(error).__name__)
        else:
            _set_status(message_id, EmailStatus.SENT, sent_at=utcnow())
            sent += 1
    return sent


def _set_status(message_id: int, status: EmailStatus, *, only_if: EmailStatus | None = None, **values: Any) -> bool:
    with write_transaction():
        query = update(EmailMessage).where(EmailMessage.id == message_id)
        if only_if is not None:
            query = query.where(EmailMessage.status == only_if)
        result = db.session.execute(query.values(status=status, **values).execution_options(synchronize_session=False))
        db.session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


def _mime(message: EmailMessage) -> MIMEMessage:
    mime = MIMEMessage()
    mime["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(localtime=False)
    mime["Message-ID"] = make_msgid(domain="pledgeline.localgov.digital")
    mime.set_content(message.body)
    return mime


def _send(mime: MIMEMessage, message_id: int, kind: str) -> None:
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        outbox = Path(current_app.config.get("MAIL_OUTBOX_DIR") or Path(current_app.instance_path) / "outbox")
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / f"{message_id:06d}-{kind}.eml"
        path.write_bytes(bytes(mime))
        log.info("email %s (%s) written to the outbox: %s", message_id, kind, mime["Subject"])
        return
    with smtplib.SMTP(config["MAIL_SERVER"], int(config.get("MAIL_PORT") or 25), timeout=10) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        smtp.send_message(mime)
    log.info("email %s (%s) sent", message_id, kind)
