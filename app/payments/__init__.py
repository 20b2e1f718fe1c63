"""Payment providers. Only `gateway` talks to Stripe."""
