"""``declarations``: the built-in plugin of the declaration feature.

It claims the ``[declarations]`` section of the deployment TOML and offers
the ``authority`` submitter, which hands the *sealed* declaration to the
deployment's transport (``upload_declaration``): the server stores
ciphertext it cannot read. Registered through the entry-point group like a
third-party plugin.
"""

from __future__ import annotations

from typing import Any

from ..hookspecs import hookimpl
from ..settings import FROM_SCHEMA, build, section_settings
from .ncovi import NCOVI_SCHEMA, NcoviSettings
from .submit import RetryPolicy, Submission, SubmitError, with_retries

DECLARATIONS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Health declarations (docs/declarations.md).",
    "properties": {
        "submitters": {
            "type": "array", "items": {"type": "string"}, "uniqueItems": True, "default": ["authority"],
            "description": "which submitters deliver a declaration, in order",
        },
        "keep_copy": {"type": "string", "enum": ["ask", "always", "never"], "default": "ask",
                      "description": "keep the person's own copy in the device store (encrypted at rest)"},
        "upload_attempts": {"type": "integer", "minimum": 1, "maximum": 10, "default": 2,
                            "description": "tries of the authority upload (the transport retries within each)"},
        "ncovi": NCOVI_SCHEMA,
    },
    "additionalProperties": False,
    "default": {},
}


@section_settings(DECLARATIONS_SCHEMA)
class DeclarationsSettings:
    """``[declarations]``: which submitters deliver, whether to keep a copy, upload tries."""

    submitters: tuple[str, ...] = FROM_SCHEMA
    keep_copy: str = FROM_SCHEMA
    upload_attempts: int = FROM_SCHEMA
    ncovi: NcoviSettings | None = FROM_SCHEMA

    def __post_init__(self) -> None:
        # the nested table arrives as a (frozen) mapping; give it its own type
        if self.ncovi is not None and not isinstance(self.ncovi, NcoviSettings):
            object.__setattr__(self, "ncovi", build(NcoviSettings, self.ncovi))


class AuthoritySubmitter:
    """Uploads the sealed bytes through the deployment's transport."""

    name = "authority"

    def __init__(self, config: Any, transport: Any = None):
        self.config = config
        self.transport = transport
        self.policy = RetryPolicy(config.typed(DeclarationsSettings).upload_attempts, 0.5, 4.0)
        self.last_attempts = 0

    async def submit(self, submission: Submission) -> str:
        from ..transport import TransportError, make_transport

        try:
            transport = self.transport or make_transport(self.config.authority_url, self.config)
        except TransportError as e:
            raise SubmitError(e.message) from None

        async def attempt(n: int) -> str:
            self.last_attempts = n
            try:
                return await transport.upload_declaration(submission.sealed)
            except TransportError as e:
                raise SubmitError(f"{e.code}: {e.message}", retryable=e.retryable, status=e.status) from None

        try:
            receipt, self.last_attempts = await with_retries(attempt, self.policy)
        finally:
            if self.transport is None:
                await transport.close()
        return receipt


@hookimpl
def bluezone_config_schema() -> dict[str, Any]:
    return {"declarations": DeclarationsSettings}


@hookimpl
def bluezone_declaration_submitters() -> dict[str, Any]:
    return {"authority": AuthoritySubmitter}
