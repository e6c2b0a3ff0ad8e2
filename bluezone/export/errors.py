"""The one error type of the export format."""

from ..models import BadBatch


class ExportError(BadBatch):
    """An export file is unusable. The message is one line a person can act on
    (``"export.sig: no signature verifies with the given public key(s)"``)."""
