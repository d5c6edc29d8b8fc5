"""The demo's calendar: Asia/Shanghai, the seed of every random stream, and moments moved
into office hours."""

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
SEED = 20210101
FIRST_YEAR = 2021
PLAN_YEARS = (2024, 2025, 2026)
# Nothing is replayed closer to the real clock than this.
SAFETY = timedelta(minutes=10)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


def office_hours(moment: datetime, rng: random.Random) -> datetime:
    """Move a moment into 8:00–19:00 local time (later the same day or the next morning)."""
    moment = moment.astimezone(TZ)
    if moment.hour < 8:
        return at(moment.date(), 8, rng.randrange(60))
    if moment.hour >= 19:
        return at(moment.date() + timedelta(days=1), 8 + rng.randrange(3), rng.randrange(60))
    return moment


def later(moment: datetime, rng: random.Random, low_hours: float, high_hours: float) -> datetime:
    minutes = rng.randint(int(low_hours * 60), int(high_hours * 60))
    return office_hours(moment + timedelta(minutes=minutes), rng)
