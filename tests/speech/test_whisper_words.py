"""Whisper word times kept inside the speech the VAD found (pure: no model needed)."""

from __future__ import annotations

from speech.engines.whisper import snap_to_speech
from speech.types import Word

SPEECH = [(4.5, 22.9), (27.1, 32.0)]  # two regions of one window, a 4.2 s silence between them


def test_words_inside_speech_are_left_alone() -> None:
    words = [Word("您好", 27.2, 27.6, 0.9), Word("此单", 27.6, 28.0, 0.8)]
    assert snap_to_speech(words, SPEECH) == tuple(words)


def test_a_word_that_drifted_into_a_silence_goes_back_to_the_speech_nearest_it() -> None:
    late = Word("谢谢您", 23.44, 24.24, 0.9)  # said at ~22.1-22.7, placed after the region's end
    early = Word("您好", 26.0, 26.5, 0.9)  # closer to the next region
    assert snap_to_speech([Word("商品", 21.9, 22.2), late], SPEECH)[1] == Word("谢谢您", 22.2, 22.9, 0.9)
    assert snap_to_speech([early], SPEECH) == (Word("您好", 27.1, 27.6, 0.9),)


def test_order_is_kept_and_no_regions_means_no_change() -> None:
    words = [Word("a", 23.0, 23.5), Word("b", 23.5, 24.0)]
    snapped = snap_to_speech(words, SPEECH)
    assert [w.start for w in snapped] == sorted(w.start for w in snapped)
    assert all(w.end >= w.start for w in snapped) and snapped[0].end <= snapped[1].start
    assert snap_to_speech(words, []) == tuple(words)
