"""Aggregate figures of a router on labelled requests (held-out accuracy, clarify and fallback rates).

Used by ``benchmarks/route.py``, the trainer and the tests; pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ivr.route import Router
from ivr.route_files import Example
from ivr.route_model import NONE
from ivr.routing import CLARIFY, ROUTE, RouteResult


def acceptable_branches(router: Router, ex: Example) -> set[str]:
    """Top-level branches that serve a labelled request: its node's and those of its ``also`` nodes."""
    return {router.top_of(n) for n in (ex.node, *ex.also) if n in router.nodes}


def evaluate(router: Router, examples: Sequence[Example]) -> dict[str, Any]:
    """Aggregate figures on labelled requests (no I/O).

    branch_acc: routed at once to an acceptable top-level branch; reached: that, or a clarifying question
    one of whose two options is acceptable (the caller then picks it); node_acc: routed to the labelled node
    or one of its ``also`` nodes exactly; clarify_rate / fallback_rate: share of requests. Requests labelled
    ``none`` are counted apart: none_routed is the share of them routed somewhere (they should not be).
    """
    others = [ex for ex in examples if ex.node == NONE]
    examples = [ex for ex in examples if ex.node != NONE]
    n = len(examples)
    routed_ok = reached = node_ok = clarify = fallback = strict = 0
    errors: list[tuple[Example, RouteResult]] = []
    others_routed = 0
    for ex in others:
        r = router.route(ex.text)
        if r.action == ROUTE:
            others_routed += 1
            errors.append((ex, r))
    for ex in examples:
        r = router.route(ex.text)
        ok_branches = acceptable_branches(router, ex)
        if r.action == ROUTE and r.node is not None:  # always a node from this router
            top = router.top_of(r.node)
            if top in ok_branches:
                routed_ok += 1
                reached += 1
            else:
                errors.append((ex, r))
            strict += top == router.top_of(ex.node)
            node_ok += r.node in (ex.node, *ex.also)
        elif r.action == CLARIFY:
            clarify += 1
            if any(router.top_of(o) in ok_branches for o in r.options):
                reached += 1
            else:
                errors.append((ex, r))
        else:
            fallback += 1
            errors.append((ex, r))
    d = max(n, 1)
    return {
        "n": n,
        "branch_acc": routed_ok / d,
        "branch_acc_strict": strict / d,
        "reached": reached / d,
        "node_acc": node_ok / d,
        "clarify_rate": clarify / d,
        "fallback_rate": fallback / d,
        "none_n": len(others),
        "none_routed": others_routed / max(len(others), 1),
        "errors": errors,
    }
