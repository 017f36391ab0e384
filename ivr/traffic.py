"""Seeded traffic for the service levels: callers who self-serve, hang up in a menu, give up in the
queue after a wait, or are answered after a wait, in seeded proportions (pure planning).

Each `CallPlan` says what the caller does (keys, when they hang up), what Twilio reports for the
queue or dial leg (QueueResult/QueueTime, DialCallStatus/DialCallDuration) and the call's duration,
and which menu nodes the call passes (``nodes``), so a test can count every figure by hand from the
plans and compare it with what the server computed from the callbacks. `run_plan` plays one plan
through `ivr.simulate.Simulator` (signed requests, as Twilio sends them).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ivr.menu import Menu
from ivr.simulate import Action, Poster, Result, Simulator

KINDS = ("self-service", "menu-hangup", "abandon", "answered")
WEIGHTS = (0.3, 0.15, 0.15, 0.4)
# transfers whose queues are open around the clock or at the usual hours (hours.yaml)
TRANSFER_NODES = ("agent", "account.stolen", "aftersales.repair", "logistics.time")
STEP_S = 8  # seconds a caller spends on a menu prompt (for the call's duration)


@dataclass(frozen=True)
class CallPlan:
    kind: str
    keys: tuple[str, ...]  # menu keys in order (the survey score included)
    nodes: tuple[str, ...]  # the menu nodes the call passes, in order
    hangup_after: int | None = None  # menus answered before the caller hangs up
    wait_s: int = 0
    talk_s: int = 0
    survey: int | None = None
    duration_s: int = 0
    leg: dict[str, dict[str, str]] = field(default_factory=dict)  # transfer verb -> the action's form


def plan_calls(menu: Menu, n: int, seed: int) -> list[CallPlan]:
    """``n`` callers, the same for the same seed and menu."""
    rng = random.Random(seed)
    infos = sorted(i for i, node in menu.nodes.items() if node.kind == "info" and _plain(menu, i))
    menus = sorted(i for i, node in menu.nodes.items() if node.kind == "menu")
    transfers = [t for t in TRANSFER_NODES if t in menu.nodes]
    return [_plan(menu, rng, rng.choices(KINDS, WEIGHTS)[0], infos, menus, transfers) for _ in range(n)]


def _plain(menu: Menu, node_id: str) -> bool:
    """Reached by keys through menus only (no order-number entry on the way)."""
    keys = menu.key_path(node_id)
    via = _via(menu, keys) if keys else []
    return bool(via) and via[-1] == node_id and all(menu.nodes[n].kind == "menu" for n in via[:-1])


def _via(menu: Menu, keys: list[str]) -> list[str]:
    nodes, cur = [menu.root], menu.root
    for k in keys:
        cur = menu.nodes[cur].choices[k]
        nodes.append(cur)
    return nodes


def _survey(rng: random.Random) -> int | None:
    """The score pressed, or None when the caller hangs up at the survey (one in five)."""
    if rng.random() < 0.2:
        return None
    return rng.choices((1, 2, 3, 4, 5), (0.08, 0.08, 0.14, 0.3, 0.4))[0]


def _plan(
    menu: Menu, rng: random.Random, kind: str, infos: list[str], menus: list[str], transfers: list[str]
) -> CallPlan:
    survey_node, goodbye = menu.survey_node, menu.goodbye_node
    if kind == "menu-hangup":
        target = rng.choice(menus)
        keys = menu.key_path(target)
        return CallPlan(
            kind, tuple(keys), tuple(_via(menu, keys)), hangup_after=len(keys), duration_s=STEP_S * (len(keys) + 1)
        )
    if kind == "self-service":
        target = rng.choice(infos)
        keys = [*menu.key_path(target), "9"]  # the answer, then "nothing else": the survey
        nodes = [*_via(menu, keys[:-1]), survey_node]
        score = _survey(rng)
        dur = STEP_S * (len(keys) + 2)
        if score is None:
            return CallPlan(kind, tuple(keys), tuple(nodes), hangup_after=len(keys), duration_s=dur)
        return CallPlan(kind, (*keys, str(score)), (*nodes, goodbye), survey=score, duration_s=dur)
    target = rng.choice(transfers)
    keys = menu.key_path(target)
    nodes = _via(menu, keys)
    ivr_s = STEP_S * (len(keys) + 1)
    if kind == "abandon":
        wait = rng.choice((rng.randint(1, 4), rng.randint(5, 400), rng.randint(5, 400)))
        leg = {"Enqueue": {"QueueResult": "hangup", "QueueTime": str(wait)}, "Dial": {"DialCallStatus": "canceled"}}
        return CallPlan(kind, tuple(keys), tuple(nodes), wait_s=wait, duration_s=ivr_s + wait, leg=leg)
    wait = min(900, int(rng.expovariate(1 / 60)))
    talk = rng.randint(60, 600)
    leg = {
        "Enqueue": {"QueueResult": "bridged", "QueueTime": str(wait)},
        "Dial": {"DialCallStatus": "completed", "DialCallDuration": str(talk)},
    }
    score = _survey(rng)
    dur = wait + talk  # the simulated IVR takes milliseconds: the duration is the queue and the agent
    if score is None:
        hang = len(keys)  # hangs up at the survey
        return CallPlan(kind, tuple(keys), (*nodes, survey_node), hang, wait, talk, None, dur, leg)
    return CallPlan(kind, (*keys, str(score)), (*nodes, survey_node, goodbye), None, wait, talk, score, dur, leg)


def run_plan(
    plan: CallPlan,
    base_url: str,
    token: str,
    *,
    post: Poster | None = None,
    caller: str = "+8613800138000",
    call_sid: str = "",
) -> tuple[str, Result]:
    """Play one plan against the server; (CallSid, result)."""
    sim = Simulator(
        base_url,
        token,
        caller=caller,
        post=post,
        leg=plan.leg or None,
        hangup_after=plan.hangup_after,
        duration_s=plan.duration_s,
        call_sid=call_sid,
    )
    return sim.call_sid, sim.run([Action("press", k) for k in plan.keys])


def run_all(
    plans: list[CallPlan], base_url: str, token: str, *, post_factory: Callable[[], Poster] | None = None, seed: int = 0
) -> list[tuple[str, Result]]:
    """Play the plans one after another, each caller with its own (seeded) number and a new CallSid."""
    rng = random.Random(seed)
    out = []
    for plan in plans:
        caller = "+86138" + "".join(str(rng.randrange(10)) for _ in range(8))
        out.append(run_plan(plan, base_url, token, post=post_factory() if post_factory else None, caller=caller))
    return out
