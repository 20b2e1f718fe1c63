"""Outgoing webhooks: telling other systems what happened, signed, retried and never in the way."""
