"""Counts the comparisons graphql-core's overlapping-fields rule makes: the quadratic part of
validation that the query limits must keep bounded. Wraps the library's own functions (called
through their module) without changing what they do."""

from collections.abc import Iterator
from contextlib import contextmanager

import graphql.validation.rules.overlapping_fields_can_be_merged as overlap_rule

_COUNTED = ("find_conflict", "collect_conflicts_between_fragments")


@contextmanager
def counting_overlap_comparisons() -> Iterator[dict[str, int]]:
    counts = dict.fromkeys(_COUNTED, 0)
    originals = {name: getattr(overlap_rule, name) for name in _COUNTED}

    def counted(name):
        def call(*args, **kwargs):
            counts[name] += 1
            return originals[name](*args, **kwargs)

        return call

    for name in _COUNTED:
        setattr(overlap_rule, name, counted(name))
    try:
        yield counts
    finally:
        for name, original in originals.items():
            setattr(overlap_rule, name, original)
