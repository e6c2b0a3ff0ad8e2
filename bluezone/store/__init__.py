"""Local storage: the device store (phones) and its at-rest encryption."""

from .device import DEFAULT_RETENTION_DAYS, DeviceStore, StoreError
from .secrets import StoreKeyError

__all__ = ["DEFAULT_RETENTION_DAYS", "DeviceStore", "StoreError", "StoreKeyError"]
