"""Messages: the conversation a caller sends, and their normalization.

Callers may pass a string, ``Message`` objects or plain dicts of the same
shape; everything is turned into a tuple of ``Message`` at the call, so a bad
role or an empty conversation is reported before any request is made.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from ._errors import InvalidRequestError

__all__ = ["Message", "MessageRole", "Prompt", "normalize_messages"]


class MessageRole(enum.StrEnum):
    """Who speaks a message."""

    SYSTEM = "system"
    DEVELOPER = "developer"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


@dataclass(slots=True)
class Message:
    """One message of a conversation.

    ``content`` is text, or a list of provider content parts (images, files)
    passed through as given. An assistant message may carry ``tool_calls``
    (:class:`~rill.ToolCall` values or OpenAI-shaped dicts) and, to continue a
    conversation with providers that require it, its ``reasoning`` with the
    ``reasoning_signature`` and the opaque provider ``items`` it came with;
    ``origin`` names the provider that produced those, since they mean
    nothing to a provider with another wire format and are not sent there
    (``GenerationResponse.to_message()`` fills all four). A tool result names
    the call it answers with ``tool_call_id``.
    """

    role: MessageRole
    content: str | list[dict[str, Any]] | None = ""
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[Any] | None = field(default=None)
    reasoning: str | None = None
    reasoning_signature: str | None = None
    items: list[Any] | None = None
    origin: str | None = None

    def __post_init__(self) -> None:
        self.role = _role(self.role)
        if self.content is not None and not isinstance(self.content, str | list):
            raise InvalidRequestError(
                f"message content must be a string or a list of parts, "
                f"not {type(self.content).__name__}"
            )


Prompt: TypeAlias = str | Sequence[Message | Mapping[str, Any]]

_MESSAGE_KEYS = frozenset(
    {
        "role",
        "content",
        "name",
        "tool_call_id",
        "tool_calls",
        "reasoning",
        "reasoning_signature",
        "items",
        "origin",
    }
)


def _role(value: object) -> MessageRole:
    if isinstance(value, MessageRole):
        return value
    known = ", ".join(r.value for r in MessageRole)
    if not isinstance(value, str):
        raise InvalidRequestError(
            f"message role must be a string, not {value!r}; use one of {known}"
        )
    try:
        return MessageRole(value)
    except ValueError:
        known = ", ".join(r.value for r in MessageRole)
        raise InvalidRequestError(
            f"unknown message role {value!r}; expected one of {known}"
        ) from None


def normalize_messages(prompt: Prompt, *, system: str | None = None) -> tuple[Message, ...]:
    """Turn any accepted prompt shape into a non-empty tuple of ``Message``."""
    if isinstance(prompt, str):
        messages: list[Message] = [Message(MessageRole.USER, prompt)]
    elif isinstance(prompt, Iterable) and not isinstance(prompt, bytes | Mapping):
        messages = [_message(item, i) for i, item in enumerate(prompt)]
    else:
        raise InvalidRequestError(
            f"prompt must be a string or a list of messages, not {type(prompt).__name__}"
        )
    if system is not None:
        messages.insert(0, Message(MessageRole.SYSTEM, system))
    if not messages:
        raise InvalidRequestError("messages must not be empty")
    return tuple(messages)


def _message(item: object, position: int) -> Message:
    if isinstance(item, Message):
        return item
    if isinstance(item, Mapping):
        unknown = set(item) - _MESSAGE_KEYS
        if unknown:
            raise InvalidRequestError(
                f"message {position} has unknown keys {sorted(unknown)}; "
                f"allowed: {sorted(_MESSAGE_KEYS)}"
            )
        if "role" not in item:
            raise InvalidRequestError(f"message {position} has no 'role'")
        return Message(
            role=_role(item["role"]),
            content=item.get("content", ""),
            name=item.get("name"),
            tool_call_id=item.get("tool_call_id"),
            tool_calls=item.get("tool_calls"),
            reasoning=item.get("reasoning"),
            reasoning_signature=item.get("reasoning_signature"),
            items=item.get("items"),
            origin=item.get("origin"),
        )
    raise InvalidRequestError(
        f"message {position} must be a Message or a dict, not {type(item).__name__}"
    )
