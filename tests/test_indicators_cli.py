"""`motcua indicators` as a user runs it: one-line errors, CSV, JSON and the Excel report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from motcua.indicators.scoring import points

FIXTURES = Path(__file__).with_name("fixtures") / "indicators"


def motcua(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "motcua", "indicators", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_scoring_gives_full_points_at_the_target_and_a_share_below() -> None:
    assert points(0.5, 0.5, 12) == 12
    assert points(0.9, 0.5, 12) == 12
    assert points(0.25, 0.5, 12) == 6
    assert points(0.0, 0.8, 22) == 0


def test_bad_input_is_one_located_line() -> None:
    for args, message in [
        (["--from", "2026-02-30"], "motcua: --from '2026-02-30': expected YYYY-MM-DD"),
        (["--from", "2026-03-01", "--to", "2026-02-01"], "--to must be on or after --from"),
        (["--agency", "x' OR 1=1"], 'invalid code "x\' OR 1=1"'),
        (["--officers"], "--officers needs --agency"),
    ]:
        done = motcua(*args, "--address", "127.0.0.1:1")
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], done.stderr


def test_csv_json_and_the_excel_report(dev_env: Any, tmp_path: Path) -> None:
    address = dev_env.client.service_client.config.target_host
    common = ["--address", address, "--catalog", str(FIXTURES), "--from", "2026-01-01"]
    csv_out = motcua(*common, "--csv")
    assert csv_out.returncode == 0, csv_out.stderr
    header, *rows = csv_out.stdout.splitlines()
    assert header.startswith("label,carried_over,received,received_online,finished_early")
    assert [r.split(",")[0] for r in rows] == [
        "T76.00.01.H26 Bộ phận Một cửa (chỉ số)",
        "T76.00.02.H26 Cơ quan liên thông (chỉ số)",
        "Toàn tỉnh (province)",
    ]
    as_json = motcua(*common, "--json", "--by", "procedure")
    data = json.loads(as_json.stdout)
    assert [d["procedure"] for d in data] == ["9.000766", "9.000767", None]
    assert {s["component"] for s in data[-1]["score"]} >= {"progress", "online", "digitisation"}
    report = tmp_path / "report.xlsx"
    written = motcua(*common, "--xlsx", str(report))
    assert written.returncode == 0 and written.stdout == ""
    book = load_workbook(report)
    sheet = book["Báo cáo một cửa"]
    assert sheet["A2"].value == "Đơn vị / thủ tục" and sheet["B2"].value == "Kỳ trước chuyển qua"
    assert sheet.max_row == 5  # the period, the headings, two agencies, the province
    assert book["Chỉ số 766"]["A1"].value == "Thành phần"
