"""How things read on a page: Vietnamese first, English on request; time left in working days.

Strings live next to their use as `tr("tiếng Việt", "English")` calls in the templates, so a
page reads in one language at a time without a separate catalogue to keep in step.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from motcua.client import STATUS_LABELS
from procedures.legaltime.calendar import TimeLimit, TimeUnit
from workflows.api import PortalStatus, RepetitionView

LANGS = ("vi", "en")
VIETNAM = timezone(timedelta(hours=7), "ICT")
DAY_MINUTES = 480
"""A working day as the default office hours count it (8 hours); `workflows.clock` says why."""


def pick(lang: str, vi: str, en: str) -> str:
    return en if lang == "en" else vi


def time_left(minutes: int, lang: str = "vi") -> str:
    """Working time left or overdue: "Còn 1 ngày 3 giờ", "Quá 2 giờ" ("1 day 3 h left")."""
    late = minutes < 0
    days, rest = divmod(abs(minutes), DAY_MINUTES)
    hours, mins = divmod(rest, 60)
    if lang == "en":
        parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
        parts += [f"{hours} h"] if hours else []
        parts += [f"{mins} min"] if mins and not days else []
        amount = " ".join(parts) or "0 min"
        return f"{amount} overdue" if late else f"{amount} left"
    parts = [f"{days} ngày"] if days else []
    parts += [f"{hours} giờ"] if hours else []
    parts += [f"{mins} phút"] if mins and not days else []
    amount = " ".join(parts) or "0 phút"
    return f"Quá {amount}" if late else f"Còn {amount}"


def local_time(value: datetime | None) -> str:
    """An instant as Vietnamese offices write it, in Vietnam's time zone."""
    if value is None:
        return ""
    return value.astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y")


def vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " đ"


def limit_text(limit: TimeLimit, lang: str = "vi") -> str:
    """A legal time limit as the published procedure states it: "15 ngày làm việc"."""
    units = {
        TimeUnit.WORKING_DAYS: ("ngày làm việc", "working days"),
        TimeUnit.WORKING_HOURS: ("giờ làm việc", "working hours"),
        TimeUnit.CALENDAR_DAYS: ("ngày", "days"),
    }
    vi, en = units[limit.unit]
    return f"{limit.amount:g} {pick(lang, vi, en)}"


ERROR_TITLES: dict[int, str] = {
    400: "Yêu cầu không hợp lệ",
    401: "Cần đăng nhập",
    403: "Không được phép",
    404: "Không tìm thấy",
    409: "Thao tác bị từ chối",
    411: "Thiếu độ dài yêu cầu",
    413: "Tệp quá lớn",
    415: "Loại tệp không được nhận",
    422: "Dữ liệu chưa hợp lệ",
    429: "Quá nhiều lần thử",
    500: "Lỗi hệ thống",
    503: "Hệ thống tạm thời không phản hồi",
}


def error_title(status: int, title: str, lang: str = "vi") -> str:
    return pick(lang, ERROR_TITLES.get(status, title), title)


EVENTS: dict[str, tuple[str, str]] = {
    "received": ("Tiếp nhận", "Received"),
    "status": ("Trạng thái", "Status"),
    "document_issued": ("Lập giấy tờ", "Document issued"),
    "task_opened": ("Giao việc", "Task opened"),
    "claimed": ("Nhận xử lý", "Claimed"),
    "decided": ("Quyết định", "Decided"),
    "reassigned": ("Chuyển xử lý", "Reassigned"),
    "reminded": ("Nhắc việc", "Reminder"),
    "overdue": ("Quá hạn", "Overdue"),
    "escalated": ("Chuyển cấp trên", "Escalated"),
    "dossier_overdue": ("Hồ sơ quá hạn", "Dossier overdue"),
    "supplement_requested": ("Yêu cầu bổ sung", "Supplement requested"),
    "supplemented": ("Đã bổ sung", "Supplemented"),
    "suspended": ("Tạm dừng thời hạn", "Clock suspended"),
    "resumed": ("Tiếp tục tính thời hạn", "Clock resumed"),
    "apology_requested": ("Cần phiếu xin lỗi", "Apology needed"),
    "withdrawn": ("Rút hồ sơ", "Withdrawn"),
    "automatic": ("Tự động", "Automatic"),
    "forked": ("Xử lý song song", "In parallel"),
    "joined": ("Hợp nhất", "Joined"),
    "chose": ("Rẽ nhánh", "Branch chosen"),
    "waiting": ("Chờ sự kiện", "Waiting"),
    "event": ("Sự kiện", "Event"),
    "handed_over": ("Chuyển giao", "Handed over"),
    "returned": ("Trả về", "Returned"),
    "task_cancelled": ("Hủy việc", "Task cancelled"),
    "calendar_changed": ("Đổi lịch làm việc", "Calendar changed"),
    "ended": ("Kết thúc", "Ended"),
}
"""Timeline entry kinds in words; an unknown kind shows as it is."""


def event_word(kind: str, lang: str = "vi") -> str:
    vi, en = EVENTS.get(kind, (kind, kind))
    return pick(lang, vi, en)


def status_label(status: int, lang: str = "vi") -> str:
    vi, en = STATUS_LABELS[PortalStatus(status)]
    return pick(lang, vi, en)


def size(count: int) -> str:
    """A file's size as people read it: 812 B, 3.4 KiB, 2.1 MiB."""
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / 1024 / 1024:.1f} MiB"


TIMELINESS: dict[str, tuple[str, str]] = {
    "early": ("Sớm hạn", "early"),
    "on_time": ("Đúng hạn", "on time"),
    "late": ("Trễ hạn", "late"),
}
"""A phase's (or the dossier's) standing against its limit, at its end or so far."""


def timeliness(status: str, lang: str = "vi") -> str:
    vi, en = TIMELINESS.get(status, (status, status))
    return pick(lang, vi, en)


def repetition_where(run: RepetitionView, lang: str = "vi") -> str:
    """Where a repeat step stands, as `motcua show` says it: "report 4 of 6, due …"."""
    if run.finished:
        return pick(
            lang,
            f"Đã xong sau báo cáo lần {run.number}/{run.times}",
            f"finished after report {run.number} of {run.times}",
        )
    if run.awaiting and run.due_at is not None:
        due = local_time(run.due_at)
        return pick(
            lang,
            f"Báo cáo lần {run.number}/{run.times}, hạn {due}",
            f"report {run.number} of {run.times}, due {due}",
        )
    if run.opens_at is not None:
        opens = local_time(run.opens_at)
        return pick(
            lang,
            f"Báo cáo lần {run.number + 1}/{run.times} mở từ {opens}",
            f"report {run.number + 1} of {run.times} opens {opens}",
        )
    return pick(
        lang, f"Báo cáo lần {run.number}/{run.times}", f"report {run.number} of {run.times}"
    )


def repetition_counts(run: RepetitionView, lang: str = "vi") -> str:
    """What was reported and missed so far: "reported 3, missed 2 (2 in a row)"."""
    return pick(
        lang,
        f"đã báo cáo {run.reported}, bỏ lỡ {run.missed} ({run.missed_in_row} lần liên tiếp)",
        f"reported {run.reported}, missed {run.missed} ({run.missed_in_row} in a row)",
    )
