"""add_footage: the timeline's recorded spans reach as far as the footage of a file still being written
(pure; the API test with the real recorder is tests/console/test_newest_footage_rtsp.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.timeline import Span, add_footage

T0 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_footage_of_the_open_file_extends_the_span_it_continues() -> None:
    spans = [Span(s(0), s(60), 1), Span(s(120), s(130), 1)]  # the open row's end: its last progress
    assert add_footage(spans, [(s(120), s(178.5))], start_utc=s(0), end_utc=s(180)) == [
        Span(s(0), s(60), 1),
        Span(s(120), s(178.5), 1),
    ]


def test_footage_not_indexed_yet_is_a_span_of_its_own_clipped_to_the_window() -> None:
    spans = [Span(s(0), s(60), 1)]
    assert add_footage(spans, [(s(70), s(200))], start_utc=s(0), end_utc=s(180)) == [
        Span(s(0), s(60), 1),
        Span(s(70), s(180), 1),
    ]
    assert add_footage(spans, [(s(190), s(200))], start_utc=s(0), end_utc=s(180)) == spans
    assert add_footage([], [], start_utc=s(0), end_utc=s(180)) == []


def test_footage_that_touches_a_closed_span_joins_it() -> None:
    spans = [Span(s(0), s(60), 1)]  # the file that just closed, and the next one being written
    assert add_footage(spans, [(s(60.04), s(65))], start_utc=s(0), end_utc=s(180)) == [Span(s(0), s(65), 1)]
