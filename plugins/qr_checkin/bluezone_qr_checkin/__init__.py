"""Bluezone qr_checkin plugin (work in progress)."""
