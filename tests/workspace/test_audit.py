"""The audit log page: admins read who did what; nobody else may."""

from __future__ import annotations

from typing import Any


def test_audit_log_lists_actions_for_admins_only(ws: Any, as_user: Any) -> None:
    _app, sd = ws
    sup = as_user("sup")
    sup.get(f"/qa/calls/{sd.good_ids[0]}")
    admin = as_user("admin")
    html = admin.get("/qa/audit").get_data(as_text=True)
    assert "登录" in html and "查看" in html and "sup" in html
    assert sup.get("/qa/audit").status_code == 403
