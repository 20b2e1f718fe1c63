"""What Pledgeline publishes for anyone to check: each campaign's itemised ledger (CSV and JSON)
and its organisations' contributions as a 360Giving data package."""
