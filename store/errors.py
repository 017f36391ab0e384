"""Errors of the workspace's store functions; the message says which rule was broken."""

from __future__ import annotations


class ReviewError(ValueError):
    """A workspace rule was broken (unknown role, resolving one's own review...); message says which."""


class ScoreInputError(ReviewError):
    """A submitted number is not usable (not finite, out of range); the message names the field in Chinese."""
