from tests.treasurer.conftest import ledger  # noqa: F401 - the campaign with every kind of ledger entry
