"""Shared fixtures. Scoring tests under tests/scoring need no database and no Django."""
