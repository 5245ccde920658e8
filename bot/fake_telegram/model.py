"""Small value types shared by the fake Bot API server's modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ApiError", "Call", "UploadedFile"]


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": code, "description": ...}``."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    @classmethod
    def bad(cls, text: str) -> ApiError:
        """A 400 whose description is ``Bad Request: <text>``."""
        return cls(400, f"Bad Request: {text}")

    @classmethod
    def forbidden(cls, text: str) -> ApiError:
        """A 403 whose description is ``Forbidden: <text>``."""
        return cls(403, f"Forbidden: {text}")

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart/form-data request."""

    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        size = len(self.data)
        return f"UploadedFile(filename={self.filename!r}, content_type={self.content_type!r}, size={size})"


@dataclass
class Call:
    """One request the bot made to the fake server, recorded when its answer was sent.

    ``params`` holds the decoded parameters (JSON-serialized ones parsed, uploads as
    :class:`UploadedFile`); ``files`` every file part of the request by part name.
    """

    method: str
    params: dict[str, Any]
    at: float
    ok: bool = False
    error_code: int | None = None
    description: str | None = None
    result: Any = None
    files: dict[str, UploadedFile] = field(default_factory=dict)
    duration: float = 0.0
