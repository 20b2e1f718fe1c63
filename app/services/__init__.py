"""Business rules as plain functions: called the same way by views, CLI commands and tests."""
