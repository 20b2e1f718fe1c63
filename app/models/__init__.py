"""The domain model: one module per aggregate. Import models from here."""

from app.models.audit import AuditEntry
from app.models.campaign import (
    PUBLIC_STATUSES,
    Campaign,
    CampaignNotice,
    CampaignStatus,
    CampaignUpdate,
    FundingModel,
    NoticeKind,
)
from app.models.email import EmailMessage, EmailStatus
from app.models.impact import ImpactEntry, ImpactMetric, ImpactStory, Outgoing, OutgoingCategory, UpdateEmailing
from app.models.invoice import Invoice, InvoiceCounter, InvoiceKind, InvoiceStatus
from app.models.match import MatchEligibility, MatchOffer, MatchStatus
from app.models.organisation import CouncilType, Organisation, OrganisationKind
from app.models.payment import Payment, PaymentStatus
from app.models.payment_event import NOT_CREDITED, Outcome, PaymentEvent, Source
from app.models.pledge import (
    LIVE_STATUSES,
    TRANSITIONS,
    Frequency,
    Instalment,
    InstalmentStatus,
    PaymentMethod,
    Pledge,
    PledgeEvent,
    PledgerKind,
    PledgeStatus,
    Visibility,
    parse_reference,
)
from app.models.reconciliation import (
    DifferenceKind,
    ReconciliationDifference,
    ReconciliationRun,
    Refund,
    RefundStatus,
    Resolution,
    RunStatus,
)
from app.models.rollup import CampaignDay, CampaignGroup
from app.models.stripe_event import StripeEvent
from app.models.types import utcnow
from app.models.user import Role, User, UserSession
from app.models.webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint

__all__ = [
    "LIVE_STATUSES",
    "NOT_CREDITED",
    "PUBLIC_STATUSES",
    "TRANSITIONS",
    "AuditEntry",
    "Campaign",
    "CampaignDay",
    "CampaignGroup",
    "CampaignNotice",
    "CampaignStatus",
    "CampaignUpdate",
    "CouncilType",
    "DeliveryStatus",
    "DifferenceKind",
    "EmailMessage",
    "EmailStatus",
    "Frequency",
    "FundingModel",
    "ImpactEntry",
    "ImpactMetric",
    "ImpactStory",
    "Instalment",
    "InstalmentStatus",
    "Invoice",
    "InvoiceCounter",
    "InvoiceKind",
    "InvoiceStatus",
    "MatchEligibility",
    "MatchOffer",
    "MatchStatus",
    "NoticeKind",
    "Organisation",
    "OrganisationKind",
    "Outcome",
    "Outgoing",
    "OutgoingCategory",
    "Payment",
    "PaymentEvent",
    "PaymentMethod",
    "PaymentStatus",
    "Pledge",
    "PledgeEvent",
    "PledgeStatus",
    "PledgerKind",
    "ReconciliationDifference",
    "ReconciliationRun",
    "Refund",
    "RefundStatus",
    "Resolution",
    "Role",
    "RunStatus",
    "Source",
    "StripeEvent",
    "UpdateEmailing",
    "User",
    "UserSession",
    "Visibility",
    "WebhookDelivery",
    "WebhookEndpoint",
    "parse_reference",
    "utcnow",
]
