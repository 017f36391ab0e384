"""The IVR flow engine: (state, event) -> step. Pure: no Flask, no database, no clock.

Everything a caller can do is decided here so the same rules serve Twilio's webhooks, the
Media Streams session and the tests: retries with the short prompt, an agent after repeated
failures, confirmation of unsure speech, keypad type-ahead, ``*`` repeat and ``#`` back, the
order-number entry with read-back, business hours before a transfer, the survey.

Speech is routed by a pluggable ``ivr.routing.SpeechRouter`` (the menu's keywords by default).
The values in and out are ``ivr.flow_types``'; command words and read-back are ``ivr.caller_text``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from ivr.caller_text import (
    BACK_WORDS,
    END_WORDS,
    MAIN_WORDS,
    REPEAT_WORDS,
    is_command,
    mask_number,
    spell_digits,
)
from ivr.flow_types import Event, GatherSpec, Note, State, Step
from ivr.hours import ALWAYS, Hours, agents_open
from ivr.menu import Menu, Node
from ivr.routing import FALLBACK, KeywordRouter, RouteResult, SpeechRouter
from speech.redact import redact_text

SURVEY_SCORES = "12345"


# ------------------------------------------------------------------ the engine
class Flow:
    """The rules of one menu. ``step`` is a pure function of its arguments."""

    def __init__(
        self,
        menu: Menu,
        hours: Hours = ALWAYS,
        router: SpeechRouter | None = None,
    ) -> None:
        self.menu = menu
        self.hours = hours
        self.router: SpeechRouter = router if router is not None else KeywordRouter(menu)

    # public ---------------------------------------------------------
    def start(self) -> State:
        return State(node=self.menu.root)

    def step(self, state: State | None, event: Event, *, now: datetime) -> Step:
        """Apply one event. ``now`` (aware) decides whether agents are available."""
        if state is None or event.kind == "start":
            st = self._enter(self.start(), self.menu.root, now, intro=(self.msg("welcome"),))
            return self._bump(st, state.seq if state else 0, Note("start", self.menu.root))
        seq = state.seq
        if state.phase == "ended":
            return self._bump(Step((), state, action="hangup"), seq)
        if event.kind == "hangup":
            done = replace(state, phase="ended", outcome=state.outcome or "abandoned")
            return self._bump(Step((), done, action="hangup"), seq, Note("hangup", state.node))
        if event.kind == "transfer_end":
            return self._bump(self._after_transfer(state, event, now), seq)
        if state.phase == "transferred":
            # the caller is with an agent; anything else is a stray request: keep them connected
            return self._bump(self._transfer(state, state.skill or "general", now, note=False), seq)
        handler: Callable[[State, Event, datetime], Step]
        kind = self.menu.node(state.node).kind
        if state.phase == "confirm":
            handler = self._on_confirm
        elif state.phase == "clarify":
            handler = self._on_clarify
        elif state.phase == "readback":
            handler = self._on_readback
        else:
            handler = {
                "menu": self._on_menu,
                "info": self._on_info,
                "collect": self._on_collect,
                "survey": self._on_survey,
                "callback": self._on_callback,
            }.get(kind, self._on_other)
        step = handler(state, event, now)
        return self._bump(step, seq, *self._input_notes(state, event))

    def msg(self, name: str, **values: str) -> str:
        text = self.menu.messages.get(name, "")
        return text.format(**values) if values else text

    # event handlers ---------------------------------------------------
    def _on_menu(self, st: State, ev: Event, now: datetime) -> Step:
        if ev.kind == "digits":
            return self._keys(st, ev.digits, now)
        if ev.kind == "speech":
            return self._speech(st, ev, now)
        return self._fail(st, "no_input", now)

    def _keys(self, st: State, keys: str, now: datetime) -> Step:
        """Apply keys one by one, so digits typed ahead during a prompt walk the tree."""
        keys = keys.strip()
        if not keys:
            return self._fail(st, "no_input", now)
        node = self.menu.node(st.node)
        key, rest = keys[0], keys[1:]
        if key == "*":
            return self._prompt(st, node, repeat=True)
        if key == "#":
            return self._enter(st, self.menu.parent(node.id), now, back=True)
        target = node.choices.get(key)
        if target is None:
            return self._fail(st, "no_match", now)
        nxt = self.menu.node(target)
        if rest and nxt.kind == "menu":
            moved = self._moved(st, target)
            return self._keys(moved, rest, now)
        if rest and nxt.kind == "collect":
            moved = self._moved(st, target)
            return self._on_collect(moved, Event("digits", digits=rest), now)
        return self._enter(st, target, now)

    def _speech(self, st: State, ev: Event, now: datetime, *, scope: str | None = None) -> Step:
        text = ev.text.strip()
        if not text:
            return self._fail(st, "no_input", now)
        node = self.menu.node(st.node)
        route = self.router(text, scope or st.node)
        if self._wants_agent(route):  # 人工 is always honoured, whatever else was said
            step = self._enter(st, self.menu.agent_node, now)
            return replace(step, notes=(Note("route", st.node, {"to": route.node, "confidence": 1.0}), *step.notes))
        routed = self._routed(route)
        if is_command(text, MAIN_WORDS, routed=routed):
            return self._enter(st, self.menu.root, now, back=True)
        if is_command(text, BACK_WORDS, routed=routed):
            return self._enter(st, self.menu.parent(node.id), now, back=True)
        if is_command(text, REPEAT_WORDS, routed=routed):
            return self._prompt(st, node, repeat=True)
        if route.action == "clarify" and route.options:
            known = tuple(o for o in route.options if o in self.menu.nodes)
            if len(known) >= 2:
                question = route.question or self._clarify_question(known)
                nxt = replace(st, phase="clarify", options=known)
                return Step(
                    (question,),
                    nxt,
                    gather=self._gather_for_options(known),
                    notes=(Note("clarify", st.node, {"options": list(known)}),),
                )
        if route.action != "route" or not route.node or route.node not in self.menu.nodes:
            return self._fail(st, "no_match", now)
        conf = route.confidence * (1.0 if ev.confidence is None else ev.confidence)
        note = Note("route", st.node, {"to": route.node, "confidence": round(conf, 3)})
        if conf < self.menu.confidence_threshold:
            target = self.menu.node(route.node)
            nxt = replace(st, phase="confirm", candidate=route.node)
            say = self.msg("confirm", label=target.label)
            return Step((say,), nxt, gather=self._yes_no_gather(), notes=(note,))
        step = self._enter(st, route.node, now)
        return replace(step, notes=(note, *step.notes))

    def _on_confirm(self, st: State, ev: Event, now: datetime) -> Step:
        if ev.kind == "speech" and self._wants_agent(self.router(ev.text, st.node)):
            return self._enter(replace(st, phase="", candidate=""), self.menu.agent_node, now)  # 好的，转人工吧
        answer = self._yes_no(ev)
        if answer is True:
            return self._enter(replace(st, phase="", candidate=""), st.candidate, now)
        if answer is False:
            back = replace(st, phase="", candidate="")
            return self._prompt(back, self.menu.node(st.node), short=True)
        if ev.kind == "speech" and ev.text.strip():
            # a fresh request instead of yes/no: route it from the node we were at
            return self._speech(replace(st, phase="", candidate=""), ev, now)
        return self._fail(st, "no_input" if ev.kind == "no_input" else "no_match", now)

    def _on_clarify(self, st: State, ev: Event, now: datetime) -> Step:
        opts = st.options
        chosen: str | None = None
        base = replace(st, phase="", options=())
        if ev.kind == "digits" and ev.digits[:1] == "0":  # the agent key works here too
            return self._enter(base, self.menu.agent_node, now)
        if ev.kind == "digits" and ev.digits[:1].isdigit() and 1 <= int(ev.digits[:1]) <= len(opts):
            chosen = opts[int(ev.digits[:1]) - 1]
        elif ev.kind == "speech" and ev.text.strip():
            route = self.router(ev.text, st.node)
            if self._wants_agent(route):
                return self._enter(base, self.menu.agent_node, now)
            if route.node and any(route.node == o or route.node.startswith(o + ".") for o in opts):
                chosen = route.node
            else:
                for nid in opts:  # a label or keyword of one option
                    n = self.menu.node(nid)
                    if any(w and w in ev.text for w in (n.label, *n.keywords)):
                        chosen = nid
                        break
            if chosen is None and self._routed(route):  # a clear request for something else: honour it
                return self._speech(base, ev, now)
        if chosen:
            return self._enter(base, chosen, now)
        clarified = st.clarified + 1
        if clarified >= 2:  # two unclear answers: back to the keypad menu (its short, keys-only prompt)
            step = self._prompt(replace(base, clarified=clarified), self.menu.node(st.node), short=True)
            return replace(step, notes=(Note("clarify-fallback", st.node),))
        return self._fail(replace(st, clarified=clarified), "no_input" if ev.kind == "no_input" else "no_match", now)

    def _on_info(self, st: State, ev: Event, now: datetime) -> Step:
        node = self.menu.node(st.node)
        if ev.kind == "no_input":  # heard the answer and said nothing more: done
            return self._enter(st, self.menu.survey_node, now)
        if ev.kind == "digits":
            key = ev.digits.strip()[:1]
            if key == "*":
                return self._prompt(st, node, repeat=True)
            if key == "#":
                return self._enter(st, self.menu.parent(node.id), now, back=True)
            if key == "0":
                return self._enter(st, self.menu.agent_node, now)
            if key == "9":
                return self._enter(st, self.menu.survey_node, now)
            return self._fail(st, "no_match", now)
        route = self.router(ev.text, st.node) if ev.text.strip() else RouteResult(None, 0.0, FALLBACK)
        if not self._wants_agent(route) and is_command(ev.text, END_WORDS, routed=self._routed(route)):
            return self._enter(st, self.menu.survey_node, now)
        return self._speech(st, ev, now)

    def _on_collect(self, st: State, ev: Event, now: datetime) -> Step:
        node = self.menu.node(st.node)
        if ev.kind != "digits" or not ev.digits.strip():
            return self._fail(st, "no_input" if ev.kind != "speech" else "no_match", now)
        raw = ev.digits.strip()
        if raw.startswith("*"):
            return self._prompt(st, node, repeat=True)
        entry = raw.split("#", 1)[0]
        if raw.startswith("#") and not entry:
            return self._enter(st, self.menu.parent(node.id), now, back=True)
        if not entry.isdigit() or not node.min_digits <= len(entry) <= node.max_digits:
            return self._fail(st, "no_match", now, message="collect_invalid")
        nxt = replace(st, phase="readback", buffer=entry, no_input=0, no_match=0)
        say = self.msg("readback", digits=spell_digits(entry))
        return Step((say,), nxt, gather=GatherSpec(input="dtmf", num_digits=1, timeout=6), notes=())

    def _on_readback(self, st: State, ev: Event, now: datetime) -> Step:
        node = self.menu.node(st.node)
        key = ev.digits.strip()[:1] if ev.kind == "digits" else ""
        if key == "1":
            done = replace(st, phase="", collected={**st.collected, node.slot: st.buffer}, buffer="")
            step = self._enter(done, node.then, now)
            note = Note("collected", node.id, {"slot": node.slot, "value": mask_number(st.buffer)})
            return replace(step, notes=(note, *step.notes))
        if key == "2":
            return self._prompt(replace(st, phase="", buffer=""), node)
        if key == "*":
            say = self.msg("readback", digits=spell_digits(st.buffer))
            return Step((say,), st, gather=GatherSpec(input="dtmf", num_digits=1, timeout=6))
        if self._count(st, ev) >= self.menu.max_failures:
            return self._too_many(st, now)
        worse = self._counted(st, ev)
        lead = self.msg("no_input" if ev.kind == "no_input" else "no_match")
        say = self.msg("readback", digits=spell_digits(st.buffer))
        return Step((lead, say), worse, gather=GatherSpec(input="dtmf", num_digits=1, timeout=6))

    def _on_survey(self, st: State, ev: Event, now: datetime) -> Step:
        key = ev.digits.strip()[:1] if ev.kind == "digits" else ""
        if ev.kind == "speech":
            key = next((c for c in ev.text if c in SURVEY_SCORES), "")
            key = key or {"五": "5", "四": "4", "三": "3", "二": "2", "两": "2", "一": "1"}.get(
                next((c for c in ev.text if c in "五四三二两一"), ""), ""
            )
        if key and key in SURVEY_SCORES:
            score = int(key)
            step = self._enter(st, self.menu.goodbye_node, now, intro=(self.msg("survey_thanks"),))
            return replace(step, survey_score=score, notes=(Note("survey", st.node, {"score": score}), *step.notes))
        if ev.kind == "no_input" or self._count(st, ev) >= self.menu.max_failures:
            return self._enter(st, self.menu.goodbye_node, now)
        return self._fail(st, "no_match", now)

    def _on_callback(self, st: State, ev: Event, now: datetime) -> Step:
        answer = self._yes_no(ev)
        if answer is True:
            taken = replace(st, outcome="callback")
            step = self._enter(taken, self.menu.goodbye_node, now, intro=(self.msg("callback_taken"),))
            skill = st.skill or "general"
            return replace(step, callback=skill, notes=(Note("callback", st.node, {"skill": skill}), *step.notes))
        if answer is False:
            return self._enter(st, self.menu.root, now)
        if self._count(st, ev) >= self.menu.max_failures:
            return self._enter(st, self.menu.goodbye_node, now)
        return self._fail(st, "no_input" if ev.kind == "no_input" else "no_match", now)

    def _on_other(self, st: State, ev: Event, now: datetime) -> Step:
        """A transfer or hang-up node never waits for input; re-enter it."""
        return self._enter(st, st.node, now)

    def _after_transfer(self, st: State, ev: Event, now: datetime) -> Step:
        status = ev.text.strip().lower()
        if status in ("completed", "bridged", "answered", "leave", "redirected"):
            return self._enter(replace(st, phase=""), self.menu.survey_node, now)
        if status in ("hangup", "canceled"):
            done = replace(st, phase="ended")
            return Step((), done, action="hangup", notes=(Note("hangup", st.node),))
        # the agent leg failed (busy, no-answer, queue-full, error): offer a callback
        st = replace(st, phase="", outcome="")
        step = self._enter(st, self.menu.callback_node, now, intro=(self.msg("no_input"),))
        return replace(step, notes=(Note("transfer-failed", st.node, {"status": status[:32]}), *step.notes))

    # moving between nodes ---------------------------------------------
    def _moved(self, st: State, target: str) -> State:
        return replace(
            st,
            node=target,
            phase="",
            no_input=0,
            no_match=0,
            candidate="",
            options=(),
            clarified=0,
            buffer="",
            path=(*st.path, target),
        )

    def _enter(self, st: State, target: str, now: datetime, *, intro: tuple[str, ...] = (), back: bool = False) -> Step:
        node = self.menu.node(target)
        moved = self._moved(st, target)
        note = Note("node", target, {"back": True} if back else {})
        if node.kind == "transfer":
            step = self._transfer(moved, node.skill, now)
            return replace(step, say=(*intro, *step.say), notes=(note, *step.notes))
        if node.kind == "hangup":
            done = replace(moved, phase="ended", outcome=st.outcome or "self-service")
            return Step((*intro, node.prompt), done, action="hangup", notes=(note,))
        if node.kind == "info" and not moved.outcome:
            moved = replace(moved, outcome="self-service")
        step = self._prompt(moved, node)
        return replace(step, say=(*intro, *step.say), notes=(note,))

    def _transfer(self, st: State, skill: str, now: datetime, *, note: bool = True) -> Step:
        node = self.menu.node(st.node)
        if not agents_open(self.hours, skill, now):
            closed = self.msg("agents_closed", hours=self.hours.display or "")
            cb = self.menu.node(self.menu.callback_node)
            nxt = replace(self._moved(st, cb.id), skill=skill)
            return Step(
                (closed, cb.prompt),
                nxt,
                gather=self._yes_no_gather(),
                notes=(Note("agents-closed", node.id, {"skill": skill}), Note("node", cb.id)),
            )
        says = [node.prompt] if node.kind == "transfer" and node.id != self.menu.agent_node else []
        says.append(self.msg("transfer"))
        nxt = replace(st, phase="transferred", outcome="transferred", skill=skill)
        notes = (Note("transfer", st.node, {"skill": skill}),) if note else ()
        return Step(tuple(says), nxt, action="transfer", skill=skill, notice=self.msg("recording_notice"), notes=notes)

    def _prompt(self, st: State, node: Node, *, repeat: bool = False, short: bool = False) -> Step:
        """Say the node's prompt: long the first time (and on ``*``), short on a retry."""
        use_short = short or (st.failures > 0 and not repeat)
        text = node.short if use_short else node.prompt
        say: tuple[str, ...] = (text,)
        if node.kind == "info":
            say = (text, self.msg("after_info"))
        gather = self._gather_for(node)
        return Step(say, st, gather=gather, notes=(Note("repeat", node.id),) if repeat else ())

    def _fail(self, st: State, kind: str, now: datetime, *, message: str = "") -> Step:
        """One more no-input / no-match: retry with the short prompt, or go to an agent."""
        worse = replace(st, no_input=st.no_input + 1) if kind == "no_input" else replace(st, no_match=st.no_match + 1)
        worse = replace(worse, phase="", candidate="", options=())
        if worse.failures >= self.menu.max_failures:
            return self._too_many(worse, now)
        step = self._prompt(worse, self.menu.node(st.node))
        lead = self.msg(message) if message else self.msg(kind)
        if message:  # the message already says what to do
            return replace(step, say=(lead,))
        return replace(step, say=(lead, *step.say))

    def _too_many(self, st: State, now: datetime) -> Step:
        kind = self.menu.node(st.node).kind
        if kind in ("survey", "callback"):
            return self._enter(st, self.menu.goodbye_node, now)
        step = self._enter(st, self.menu.agent_node, now, intro=(self.msg("too_many_failures"),))
        if step.action == "transfer":  # the failure message already says we are transferring
            step = replace(step, say=(self.msg("too_many_failures"),))
        return replace(step, notes=(Note("too-many-failures", st.node), *step.notes))

    # small helpers ------------------------------------------------------
    def _wants_agent(self, route: RouteResult) -> bool:
        return route.action == "route" and route.node == self.menu.agent_node

    def _routed(self, route: RouteResult) -> bool:
        return route.action == "route" and bool(route.node) and route.node in self.menu.nodes

    def _count(self, st: State, ev: Event) -> int:
        return st.failures + 1

    def _counted(self, st: State, ev: Event) -> State:
        if ev.kind == "no_input":
            return replace(st, no_input=st.no_input + 1)
        return replace(st, no_match=st.no_match + 1)

    def _yes_no(self, ev: Event) -> bool | None:
        if ev.kind == "digits":
            key = ev.digits.strip()[:1]
            return True if key == "1" else False if key == "2" else None
        if ev.kind == "speech":
            text = ev.text.strip()
            if any(w in text for w in self.menu.no_words):
                return False
            if any(w in text for w in self.menu.yes_words):
                return True
        return None

    def _yes_no_gather(self) -> GatherSpec:
        return GatherSpec(
            input="dtmf speech", num_digits=1, timeout=5, hints=(*self.menu.yes_words, *self.menu.no_words)
        )

    def _gather_for_options(self, options: tuple[str, ...]) -> GatherSpec:
        hints = tuple(h for o in options for h in (self.menu.node(o).label, *self.menu.node(o).keywords))
        return GatherSpec(input="dtmf speech", num_digits=1, timeout=5, hints=hints)

    def _clarify_question(self, options: tuple[str, ...]) -> str:
        labels = [self.menu.node(o).label for o in options]
        keys = "，".join(f"{lab}请按{i + 1}" for i, lab in enumerate(labels))
        return f"请问您是要办理{'还是'.join(labels)}？{keys}。"

    def _gather_for(self, node: Node) -> GatherSpec:
        if node.kind == "collect":
            return GatherSpec(input="dtmf", finish_on_key="#", timeout=8, num_digits=None)
        if node.kind in ("survey", "callback"):
            hints = (*self.menu.yes_words, *self.menu.no_words) if node.kind == "callback" else ()
            return GatherSpec(input="dtmf speech", num_digits=1, timeout=6, hints=hints)
        if node.kind == "info":
            hints = (*REPEAT_WORDS[:2], *BACK_WORDS[:2], "人工", *END_WORDS[:2])
            return GatherSpec(input="dtmf speech", num_digits=1, timeout=5, hints=hints)
        words: list[str] = []
        for child in self.menu.children(node.id):
            words.extend((child.label, *child.keywords[:4]))
        return GatherSpec(input="dtmf speech", timeout=3, finish_on_key="", hints=tuple(dict.fromkeys(words)))

    def _input_notes(self, st: State, ev: Event) -> tuple[Note, ...]:
        """The caller's input as call events, without personal data.

        Keys are recorded by count only (the node events already say where the caller went);
        speech is redacted like transcripts (phone, ID and bank-card numbers become tags) before
        it is cut to length, so no half of a number survives the cut.
        """
        if ev.kind == "digits":
            return (Note("dtmf", st.node, {"length": len(ev.digits)}),)
        if ev.kind == "speech":
            conf = None if ev.confidence is None else round(ev.confidence, 3)
            return (Note("speech", st.node, {"text": redact_text(ev.text)[:200], "confidence": conf}),)
        if ev.kind == "no_input":
            return (Note("no-input", st.node),)
        return ()

    def _bump(self, step: Step, seq: int, *notes: Note) -> Step:
        return replace(step, state=replace(step.state, seq=seq + 1), notes=(*notes, *step.notes))
