"""The trends page, by team and by the agents of one team."""

from __future__ import annotations

from typing import Any


def test_trends_by_team_and_by_agent(ws: Any, as_user: Any) -> None:
    _app, _sd = ws
    c = as_user("sup")
    html = c.get("/qa/trends").get_data(as_text=True)
    assert "售后一组" in html and "售后二组" in html and 'id="weekly"' in html and 'id="failed"' in html
    html = c.get("/qa/trends?team=售后一组").get_data(as_text=True)
    assert "A1001" in html and "A2001" not in html.split('id="trend-data"')[0]
