"""Prompt templates: f-string style text with ``{variables}``, as one user
message or a list of messages with placeholders for whole conversations.

A template is parsed once, when it is made: its variables are known up
front, and a missing one is an error naming it, before any request.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import InvalidRequestError
from .._messages import Message, MessageRole, normalize_messages
from ._base import Runnable
from ._config import Context

__all__ = ["Placeholder", "PromptTemplate", "PromptValue", "prompt"]

_FORMATTER = string.Formatter()


@dataclass(frozen=True, slots=True)
class PromptValue:
    """A filled-in prompt: the messages to send. Chat models take it as input."""

    messages: tuple[Message, ...]

    def to_messages(self) -> list[Message]:
        return list(self.messages)

    def to_string(self) -> str:
        """The messages as plain text (``Role: content`` lines)."""
        return "\n".join(
            f"{m.role.value.capitalize()}: {m.content}"
            if len(self.messages) > 1
            else str(m.content)
            for m in self.messages
        )


@dataclass(frozen=True, slots=True)
class Placeholder:
    """Where a list of messages from the input goes (a conversation so far).
    ``optional`` placeholders may be missing from the input."""

    name: str
    optional: bool = False


def _variables(text: str) -> list[str]:
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise InvalidRequestError(f"bad prompt template {text!r}: {exc}") from None
    names = []
    for _, field, _, _ in parsed:
        if field is None:
            continue
        if not field.isidentifier():
            raise InvalidRequestError(
                f"prompt variables are plain names, not {{{field}}} (in {text!r}); "
                "double the braces for a literal one: {{ }}"
            )
        names.append(field)
    return names


class PromptTemplate(Runnable[Any, PromptValue]):
    """A prompt with ``{variables}``: its input is a dict of their values (or
    the one value, when there is one variable); its output a
    :class:`PromptValue`. Made with :func:`rill.prompt`. It waits for its
    whole input."""

    run_type = "prompt"

    def __init__(
        self,
        parts: Sequence[tuple[MessageRole, str] | Placeholder | Message],
        partials: Mapping[str, Any] | None = None,
    ) -> None:
        self.parts = tuple(parts)
        self.partials = dict(partials or {})
        names: list[str] = []
        for part in self.parts:
            if isinstance(part, tuple):
                names.extend(n for n in _variables(part[1]) if n not in names)
            elif isinstance(part, Placeholder) and part.name not in names:
                names.append(part.name)
        self.input_variables = [n for n in names if n not in self.partials]

    def partial(self, **values: Any) -> PromptTemplate:
        """This template with some variables filled in now."""
        return PromptTemplate(self.parts, {**self.partials, **values})

    def _check_input(self, input: Any) -> None:
        self._invoke(input, Context(None))

    def format(self, **values: Any) -> PromptValue:
        return self._invoke(values, Context(None))

    def _invoke(self, input: Any, ctx: Context) -> PromptValue:
        if not isinstance(input, Mapping):
            if len(self.input_variables) != 1:
                raise InvalidRequestError(
                    f"this prompt takes a dict with {self.input_variables}, "
                    f"not {type(input).__name__}"
                )
            input = {self.input_variables[0]: input}
        values = {**self.partials, **input}
        missing = [
            n
            for n in self.input_variables
            if n not in values
            and not any(
                isinstance(p, Placeholder) and p.name == n and p.optional for p in self.parts
            )
        ]
        if missing:
            raise InvalidRequestError(f"the prompt is missing variable(s) {missing}")
        messages: list[Message] = []
        for part in self.parts:
            if isinstance(part, Message):
                messages.append(part)
            elif isinstance(part, Placeholder):
                given = values.get(part.name)
                if given:
                    messages.extend(normalize_messages(given))
            else:
                role, text = part
                messages.append(Message(role, text.format(**values)))
        if not messages:
            raise InvalidRequestError("the prompt produced no messages")
        return PromptValue(tuple(messages))

    def __repr__(self) -> str:
        return f"PromptTemplate(input_variables={self.input_variables})"


def prompt(
    template: str | Sequence[Any],
    **partials: Any,
) -> PromptTemplate:
    """A prompt template. ``template`` is f-string style text (one user
    message), or a list of messages: ``(role, text)`` pairs, ``Message``
    values (sent as they are), dicts with ``role`` and ``content``,
    ``Placeholder("history")`` or ``("placeholder", "{history}")`` for a list
    of messages from the input. Keyword arguments fill variables now.

    >>> p = prompt([("system", "You are {persona}."), ("user", "{question}")])
    >>> p.invoke({"persona": "terse", "question": "Why?"}).messages[1].content
    'Why?'
    """
    if isinstance(template, str):
        return PromptTemplate([(MessageRole.USER, template)], partials)
    if not isinstance(template, Sequence):
        raise InvalidRequestError(
            f"prompt() takes a string or a list of messages, not {type(template).__name__}"
        )
    parts: list[tuple[MessageRole, str] | Placeholder | Message] = []
    for i, item in enumerate(template):
        if isinstance(item, Placeholder | Message):
            parts.append(item)
        elif isinstance(item, tuple) and len(item) == 2 and item[0] == "placeholder":
            name = str(item[1]).strip()
            if not (name.startswith("{") and name.endswith("}")):
                raise InvalidRequestError(
                    f"a placeholder is ('placeholder', '{{name}}'), not {item}"
                )
            parts.append(Placeholder(name[1:-1]))
        elif isinstance(item, tuple) and len(item) == 2:
            role, text = item
            parts.append((_role(role, i), _text(text, i)))
        elif isinstance(item, Mapping) and set(item) <= {"role", "content"} and "role" in item:
            parts.append((_role(item["role"], i), _text(item.get("content", ""), i)))
        elif isinstance(item, str):
            parts.append((MessageRole.USER, item))
        else:
            raise InvalidRequestError(
                f"prompt message {i} must be a (role, text) pair, a Message, a dict or a "
                f"Placeholder, not {item!r}"
            )
    if not parts:
        raise InvalidRequestError("a prompt needs at least one message")
    return PromptTemplate(parts, partials)


_ROLE_ALIASES = {"human": "user", "ai": "assistant"}


def _role(role: object, position: int) -> MessageRole:
    if isinstance(role, MessageRole):
        return role
    try:
        if not isinstance(role, str):
            raise ValueError(role)
        return MessageRole(_ROLE_ALIASES.get(role, role))
    except ValueError:
        known = ", ".join(r.value for r in MessageRole)
        raise InvalidRequestError(
            f"prompt message {position} has unknown role {role!r}; expected one of {known}"
        ) from None


def _text(text: object, position: int) -> str:
    if not isinstance(text, str):
        raise InvalidRequestError(f"prompt message {position} text must be a string, not {text!r}")
    _variables(text)
    return text
