"""Health declarations (NCOVI / tokhaiyte.vn), sealed on the device.

* :mod:`.fields`, :mod:`.form`, :mod:`.ncovi_form` — the versioned,
  bilingual form and its per-field validation; :mod:`.compose` runs the
  ``bluezone_declaration_form`` hook so provinces extend it without forking.
* :mod:`.declaration` — the padded plaintext; :mod:`.sealing` — libsodium
  sealed box to the authority's key (the server cannot open it).
* :mod:`.linkage` — tier and exposure date from an alert, nothing more.
* :mod:`.submit`, :mod:`.plugin` (``authority`` submitter through the
  transport), :mod:`.ncovi` (``ncovi-submitter`` default plugin).
* :mod:`.authority` — offline opening, triage, CSV export, purge.
* :mod:`.console` — the interactive questions. See docs/declarations.md.
"""

from .compose import InvalidDeclaration, build_form, make_declaration
from .declaration import Declaration, DeclarationFormatError
from .fields import Choice, Field, FieldError
from .form import Form, FormError, ValidationResult
from .linkage import Linkage, LinkageError, offers, offers_from_store
from .sealing import (
    KeyPair,
    SealError,
    load_private_key,
    open_sealed,
    public_key_from_b64,
    public_key_from_config,
    seal,
)
from .submit import Submission, SubmitError, SubmitResult, submit_all

__all__ = [
    "Choice", "Declaration", "DeclarationFormatError", "Field", "FieldError", "Form", "FormError",
    "InvalidDeclaration", "KeyPair", "Linkage", "LinkageError", "SealError", "SubmitError", "SubmitResult",
    "Submission", "ValidationResult", "build_form", "load_private_key", "make_declaration", "offers",
    "offers_from_store", "open_sealed", "public_key_from_b64", "public_key_from_config", "seal",
    "submit_all",
]
