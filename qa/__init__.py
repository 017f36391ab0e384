"""QA scoring of call and chat transcripts: pure scorers weighted by a scorecard.

from qa import from_transcript, load_scorecard, score_dialogue
result = score_dialogue(from_transcript(transcript_json), load_scorecard())
row = result.to_dict()   # what the pipeline stores in ScoreRow
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Dialogue": "qa.dialogue",
    "Turn": "qa.dialogue",
    "DialogueError": "qa.dialogue",
    "from_transcript": "qa.dialogue",
    "from_record": "qa.dialogue",
    "from_any": "qa.dialogue",
    "Scorecard": "qa.scorecard",
    "ScorecardError": "qa.scorecard",
    "load_scorecard": "qa.scorecard",
    "parse_scorecard": "qa.scorecard",
    "ScoreResult": "qa.score",
    "score_dialogue": "qa.score",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Lazy re-exports: ``import qa`` stays cheap and free of import cycles."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qa' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
