"""Money is Decimal CNY with 2 places, rounded half-up in one place only."""

from decimal import ROUND_HALF_UP, Decimal

CURRENCY = "CNY"
CENT = Decimal("0.01")


def quantize_cny(amount: Decimal | int | str) -> Decimal:
    """Round an amount to fen. Floats are refused: they cannot represent money exactly."""
    if isinstance(amount, float):
        raise TypeError("Money must not be a float; pass Decimal, int or str.")
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def to_fen(amount: Decimal) -> int:
    """The amount in the smallest unit (fen), as payment gateways expect."""
    return int(quantize_cny(amount) * 100)


def from_fen(fen: int) -> Decimal:
    return quantize_cny(Decimal(fen) / 100)
