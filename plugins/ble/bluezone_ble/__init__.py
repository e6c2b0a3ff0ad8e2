"""Bluezone ble plugin (work in progress)."""
