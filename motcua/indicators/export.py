"""Indicator rows as people and other programs read them: a text table, CSV, JSON, and the
periodic one-stop report as an Excel workbook (openpyxl)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from motcua.indicators.figures import Row
from motcua.indicators.scoring import score

REPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("label", "Đơn vị / thủ tục"),
    ("carried_over", "Kỳ trước chuyển qua"),
    ("received", "Tiếp nhận trong kỳ"),
    ("received_online", "trong đó trực tuyến"),
    ("finished_early", "Đã giải quyết trước hạn"),
    ("finished_on_time", "Đã giải quyết đúng hạn"),
    ("finished_late", "Đã giải quyết quá hạn"),
    ("in_progress_on_time", "Đang giải quyết trong hạn"),
    ("in_progress_overdue", "Đang giải quyết quá hạn"),
    ("returned", "Trả lại / rút / dừng"),
    ("supplement_requested", "Yêu cầu bổ sung"),
    ("apologies", "Thư xin lỗi"),
    ("on_time_rate", "Tỷ lệ trước và đúng hạn"),
    ("online_rate", "Tỷ lệ trực tuyến"),
    ("online_payment_rate", "Tỷ lệ thanh toán trực tuyến"),
    ("digitised_rate", "Tỷ lệ số hóa"),
    ("portal_sync_rate", "Tỷ lệ đồng bộ lên Cổng DVCQG"),
    ("satisfaction_rate", "Tỷ lệ hài lòng"),
    ("feedback_received", "Phản ánh, kiến nghị tiếp nhận"),
    ("feedback_ended", "Phản ánh, kiến nghị đã xử lý"),
    ("feedback_overdue", "Phản ánh, kiến nghị đang xử lý quá hạn"),
    ("feedback_on_time_rate", "Tỷ lệ phản ánh, kiến nghị xử lý đúng hạn"),
    ("average_processing_days", "Thời gian giải quyết TB (ngày làm việc)"),
    ("processing_days_estimated", "trong đó ước tính (đếm theo khoảng ngày)"),
    ("handled", "Hồ sơ có bước của đơn vị"),
    ("handled_late", "trong đó bước quá hạn"),
)
"""The report's columns: key, and the Vietnamese heading agencies file it under."""


def flat(row: Row) -> dict[str, Any]:
    """One row as the report's columns (rates as fractions, None when undefined)."""
    out: dict[str, Any] = {
        **row.model_dump(exclude={"received_by_channel", "ratings"}),
        **row.rates(),
        "received_online": row.received_by_channel.get("online", 0),
        "returned": row.returned,
        "finished": row.finished,
    }
    return {key: out.get(key) for key, _ in REPORT_COLUMNS}


def csv_text(rows: Sequence[Row]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[k for k, _ in REPORT_COLUMNS])
    writer.writeheader()
    for r in rows:
        writer.writerow(flat(r))
    return buf.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1%}" if value <= 1 else f"{value:.2f}"
    return str(value)


def text(rows: Sequence[Row]) -> str:
    """A compact table for a terminal, then the score of the last row (the total)."""
    keys = [
        ("label", "scope", 34),
        ("received", "recv", 6),
        ("finished_early", "early", 6),
        ("finished_on_time", "ontime", 6),
        ("finished_late", "late", 6),
        ("in_progress_on_time", "open", 6),
        ("in_progress_overdue", "ovrdue", 6),
        ("returned", "retrnd", 6),
        ("on_time_rate", "ontime%", 8),
        ("online_rate", "online%", 8),
        ("digitised_rate", "digit%", 8),
        ("feedback_on_time_rate", "pakn%", 8),
        ("average_processing_days", "avgdays", 8),
    ]
    lines = [" ".join(f"{h:<{w}}" if k == "label" else f"{h:>{w}}" for k, h, w in keys)]
    for r in rows:
        values = flat(r)
        cells = []
        for k, _, w in keys:
            cell = _cell(values[k])
            cells.append(f"{cell[:w]:<{w}}" if k == "label" else f"{cell:>{w}}")
        lines.append(" ".join(cells))
    if any(r.processing_days_estimated for r in rows):
        lines.append("avgdays: estimated from counts per range of days (many dossiers)")
    if rows:
        total = rows[-1]
        lines.append("")
        lines.append(f"Decision 766 score, {total.label}:")
        for s in score(total):
            got = "-" if s.score is None else f"{s.score:g}"
            lines.append(f"  {s.name:<56} {_cell(s.rate):>7} / {s.target:.0%}  {got}/{s.points:g}")
    return "\n".join(lines)


def workbook(rows: Sequence[Row], path: Path) -> None:
    """The periodic one-stop report as an .xlsx sheet, Vietnamese headings, plus the score."""
    wb = Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.title = "Báo cáo một cửa"
    if rows:
        first = rows[0]
        sheet.append([f"Kỳ báo cáo: {first.start:%Y-%m-%d} – {first.end:%Y-%m-%d}"])
    sheet.append([heading for _, heading in REPORT_COLUMNS])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for r in rows:
        sheet.append([flat(r)[key] for key, _ in REPORT_COLUMNS])
    if rows:
        scores = wb.create_sheet("Chỉ số 766")
        scores.append(["Thành phần", "Tỷ lệ", "Mục tiêu", "Điểm tối đa", "Điểm"])
        for s in score(rows[-1]):
            scores.append([s.name, s.rate, s.target, s.points, s.score])
    wb.save(path)
