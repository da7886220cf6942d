"""What a response cost, from a dated price table shipped with rill.

Prices are data (``_prices.json``, dated by its ``as_of``), never fetched at
run time. A model the table does not know has no cost: ``None`` with a
reason, never a guess. A dated snapshot of a known model
(``gpt-4o-mini-2024-07-18``, ``claude-sonnet-4-5-20250929``,
``gemini-2.0-flash-001``, ``...-latest``) is priced as that model; nothing
looser (a prefix match would price ``gpt-4o-audio-preview`` as ``gpt-4o``).

Usage is split the way providers bill it: ``cached_tokens`` (a part of
``prompt_tokens``) at the cached-input price, ``reasoning_tokens`` (a part of
``completion_tokens``) at the reasoning price, which is the output price
unless the table says otherwise.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson

from ._errors import InvalidRequestError

if TYPE_CHECKING:
    from ._response import Usage

__all__ = ["Cost", "CostTracker", "Price", "PriceTable", "default_prices"]

_PER = 1_000_000
# Suffixes that name a snapshot of a model rather than another model.
_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|latest|\d{3})$")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens. ``cached_input`` None: the provider has no
    cached price for the model (a response with cached tokens then has no
    cost); ``reasoning`` None: reasoning is billed as output."""

    input: float
    output: float
    cached_input: float | None = None
    reasoning: float | None = None


@dataclass(frozen=True, slots=True)
class Cost:
    """The cost of one response in ``currency``, by part. ``estimated`` is
    True when the token counts were estimated by rill (see ``Usage``)."""

    input: float
    cached_input: float
    output: float
    reasoning: float
    model: str
    prices_as_of: str
    estimated: bool = False
    currency: str = "USD"

    @property
    def total(self) -> float:
        return self.input + self.cached_input + self.output + self.reasoning


class PriceTable:
    """Prices by ``"provider/model"`` (``"provider/*"``: every model of a
    provider). ``Client(prices={...})`` layers a user's additions and
    overrides over the shipped table."""

    __slots__ = ("_aliases", "_prices", "as_of")

    def __init__(
        self,
        prices: Mapping[str, Price],
        *,
        as_of: str,
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self._prices = dict(prices)
        self._aliases = dict(aliases or {})
        self.as_of = as_of

    def with_overrides(self, prices: Mapping[str, Price | Mapping[str, float]]) -> PriceTable:
        """A new table: ``prices`` added to (or replacing entries of) this one."""
        merged = dict(self._prices)
        for name, price in prices.items():
            if "/" not in name:
                raise InvalidRequestError(f"price keys are 'provider/model', not {name!r}")
            merged[name] = price if isinstance(price, Price) else _price(name, price)
        return PriceTable(merged, as_of=f"{self.as_of} + overrides", aliases=self._aliases)

    def lookup(self, provider: str, model: str) -> Price | None:
        provider = self._aliases.get(provider, provider)
        prices = self._prices
        for name in (model, _SNAPSHOT.sub("", model)):
            price = prices.get(f"{provider}/{name}")
            if price is not None:
                return price
        return prices.get(f"{provider}/*")

    def cost(self, provider: str | None, model: str | None, usage: Usage) -> Cost | str:
        """The cost of ``usage``, or the reason there is none."""
        if not provider or not model:
            return "the response names no provider or model"
        price = self.lookup(provider, model)
        if price is None:
            return f"no price for {provider}/{model} in rill's table (as of {self.as_of})"
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        if cached and price.cached_input is None:
            return f"no cached-input price for {provider}/{model} (as of {self.as_of})"
        reasoning = min(usage.reasoning_tokens, usage.completion_tokens)
        reasoning_price = price.output if price.reasoning is None else price.reasoning
        return Cost(
            input=(usage.prompt_tokens - cached) * price.input / _PER,
            cached_input=cached * (price.cached_input or 0.0) / _PER,
            output=(usage.completion_tokens - reasoning) * price.output / _PER,
            reasoning=reasoning * reasoning_price / _PER,
            model=f"{provider}/{model}",
            prices_as_of=self.as_of,
            estimated=usage.estimated,
        )


def _price(name: str, fields: Mapping[str, Any]) -> Price:
    try:
        return Price(**fields)
    except TypeError as exc:
        raise InvalidRequestError(f"bad price for {name!r}: {exc}") from None


@functools.cache
def default_prices() -> PriceTable:
    """The table shipped with rill (read once, on the first cost asked for)."""
    data = orjson.loads(resources.files(__package__).joinpath("_prices.json").read_bytes())
    prices = {name: _price(name, fields) for name, fields in data["models"].items()}
    return PriceTable(prices, as_of=data["as_of"], aliases=data["aliases"])


class CostTracker:
    """Sums the cost of a client's calls (thread-safe; a cache hit costs
    nothing and is not counted). ``unpriced`` counts responses that had no
    cost (an unknown model)."""

    __slots__ = ("_by_model", "_lock", "calls", "total", "unpriced")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_model: dict[str, float] = {}
        self.total = 0.0
        self.calls = 0
        self.unpriced = 0

    def add(self, cost: Cost | None) -> None:
        with self._lock:
            self.calls += 1
            if cost is None:
                self.unpriced += 1
                return
            self.total += cost.total
            self._by_model[cost.model] = self._by_model.get(cost.model, 0.0) + cost.total

    @property
    def by_model(self) -> dict[str, float]:
        """Total cost by ``"provider/model"`` (a copy)."""
        with self._lock:
            return dict(self._by_model)

    def reset(self) -> None:
        with self._lock:
            self._by_model.clear()
            self.total = 0.0
            self.calls = 0
            self.unpriced = 0

    def __repr__(self) -> str:
        return f"<rill.CostTracker total=${self.total:.6f} calls={self.calls}>"
