"""Model prices (`COACH_MODEL_PRICES`) and the cost estimate of token counts.

Prices are US dollars per million tokens, per model, per direction (`input`, `output`) and per modality
(`text`, `audio`, ...), with `default` for a modality without a price of its own and for tokens reported
without a modality breakdown. Thinking tokens are priced as output. Cost is computed when usage is read,
never stored, so a corrected price applies to the whole history. It is an estimate: the provider's bill
(tiers, caching discounts, free quotas) is the authority.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, NonNegativeFloat

from db.conversations import ModelSums
from db.models import MODALITIES

TOKENS_PER_PRICE_UNIT = 1_000_000


class DirectionPrices(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: NonNegativeFloat
    text: NonNegativeFloat | None = None
    audio: NonNegativeFloat | None = None
    image: NonNegativeFloat | None = None
    video: NonNegativeFloat | None = None
    document: NonNegativeFloat | None = None

    def of(self, modality: str) -> float:
        price = getattr(self, modality)
        return self.default if price is None else price


class ModelPrice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: DirectionPrices
    output: DirectionPrices


ModelPrices = dict[str, ModelPrice]

# Published list prices when this was written (paid tier, per million tokens), as a starting point only.
DEFAULT_MODEL_PRICES: dict[str, Any] = {
    "gemini-3.1-flash-live-preview": {
        "input": {"default": 0.5, "text": 0.5, "audio": 3.0},
        "output": {"default": 2.0, "text": 2.0, "audio": 12.0},
    },
    "gemini-2.5-flash-native-audio-preview-09-2025": {
        "input": {"default": 0.5, "text": 0.5, "audio": 3.0},
        "output": {"default": 2.0, "text": 2.0, "audio": 12.0},
    },
    "gemini-2.5-flash": {
        "input": {"default": 0.3, "text": 0.3, "audio": 1.0},
        "output": {"default": 2.5},
    },
}


def cost_usd(prices: ModelPrices, sums: ModelSums) -> float | None:
    """The estimated cost of `sums`; None when the model has no configured price."""
    price = prices.get(sums.model)
    if price is None:
        return None
    total = 0.0
    for direction, direction_prices in (("input", price.input), ("output", price.output)):
        for modality in MODALITIES:
            total += sums.by_modality.get(direction, {}).get(modality, 0) * direction_prices.of(modality)
        total += sums.unsplit.get(direction, 0) * direction_prices.default
    total += sums.thoughts_tokens * price.output.default
    return total / TOKENS_PER_PRICE_UNIT

