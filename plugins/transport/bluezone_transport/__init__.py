"""Bluezone transport plugin (work in progress)."""
