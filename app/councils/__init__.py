"""Councils: the UK council register."""
