"""What a model call cost, from genai-prices' bundled price table (never fetched online).

`Usage.prompt_tokens` counts every prompt token, cached ones included, which is also what
genai-prices calls `input_tokens`; cache reads and writes are priced as parts of it.
"""

from __future__ import annotations

import warnings

from devbot.llm.base import Usage


def cost_usd(provider: str, model: str, usage: Usage) -> float:
    """Price of one call in USD; 0.0 when the model or provider has no known price."""
    if usage == Usage():
        return 0.0
    import genai_prices

    tokens = genai_prices.Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        cache_read_tokens=usage.cache_read_tokens or None,
        cache_write_tokens=usage.cache_write_tokens or None,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            price = genai_prices.calc_price(tokens, model, provider_id=provider)
    except (LookupError, ValueError, TypeError):
        return 0.0
    return float(price.total_price)
