"""Downloads: the call list as CSV and as a zip, and one CSV layout shared by every download."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

from workspace.writers import CSV_HEADER, ZIP_SUMMARY_HEADER

from .helpers import audits, make_sample


def _table(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")  # Excel reads the Chinese as UTF-8 only with the BOM
    return list(csv.reader(io.StringIO(text[1:])))


def test_calls_csv_and_zip(ws: Any, as_user: Any) -> None:
    app, _sd = ws
    sup = as_user("sup")
    r = sup.get("/qa/calls.csv?team=售后二组")
    lines = _table(r.get_data(as_text=True))
    assert lines[0] == CSV_HEADER and len(lines) == 1 + 12 and all(row[4] == "售后二组" for row in lines[1:])
    r = sup.get("/qa/export.zip?agent=A2001")
    z = zipfile.ZipFile(io.BytesIO(r.data))
    assert sum(1 for n in z.namelist() if n.endswith(".wav")) == 6
    assert {e.object_type for e in audits(app, "export")} == {"calls_csv", "calls_zip"}


def test_every_download_writes_a_call_the_same_way(ws: Any, as_user: Any) -> None:
    """The list CSV, the sample CSV and both zips' summary.csv share one writer: same header, same
    cells for a call, only the trailing columns differ."""
    app, sd = ws
    sid = make_sample(app, sd)
    sup = as_user("sup")

    def summary(url: str) -> list[list[str]]:
        return _table(zipfile.ZipFile(io.BytesIO(sup.get(url).data)).read("summary.csv").decode("utf-8"))

    raw = sup.get(f"/qa/samples/{sid}.csv").get_data(as_text=True)
    assert "\r\n" in raw and "\n" not in raw.replace("\r\n", "")  # one line ending throughout
    tables = {
        "calls.csv": (_table(sup.get("/qa/calls.csv").get_data(as_text=True)), []),
        "sample.csv": (_table(raw), ["抽检原因", "质检员"]),
        "export.zip": (summary("/qa/export.zip"), ZIP_SUMMARY_HEADER),
        "sample.zip": (summary(f"/qa/samples/{sid}.zip"), ZIP_SUMMARY_HEADER),
    }
    by_call: dict[str, dict[str, list[str]]] = {}
    for name, (rows, extra) in tables.items():
        assert rows[0] == [*CSV_HEADER, *extra], name
        for row in rows[1:]:
            assert len(row) == len(CSV_HEADER) + len(extra), (name, row)
            by_call.setdefault(row[0], {})[name] = row[: len(CSV_HEADER)]
    sampled = [cells for cells in by_call.values() if "sample.csv" in cells]
    assert sampled
    for cells in sampled:
        assert len(cells) == 4 and len({tuple(v) for v in cells.values()}) == 1, cells
