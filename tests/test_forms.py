"""The legal form templates, rendered as the workflow renders them: jinja2's immutable sandbox
with autoescape, from the template text alone, with the documented context.

What is asserted is what a person reading the printed slip would notice: the dossier code, the
appointment date, the form's number and title, the applicant's name shown as text (never run as
markup), and on the control slip one row per hand-over.
"""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from jinja2 import StrictUndefined, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from procedures.models import FormKind, Procedure

ROOT = Path(__file__).resolve().parent.parent
FORMS = ROOT / "procedures" / "forms"
BIRTH = ROOT / "procedures" / "catalog" / "birth-residence-insurance.yaml"

EVIL_NAME = 'Nguyễn Văn <script>alert("x")</script> An'

NUMBERS = {kind: f"9{i}" for i, kind in enumerate(FormKind)}
"""A distinctive form number per kind, so that the test sees the context's number, not a literal."""

TITLES = {
    FormKind.RECEIPT: "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
    FormKind.SUPPLEMENT_REQUEST: "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ",
    FormKind.REFUSAL: "Phiếu từ chối tiếp nhận giải quyết hồ sơ",
    FormKind.APOLOGY: "Phiếu xin lỗi và hẹn lại ngày trả kết quả",
    FormKind.CONTROL_SLIP: "Phiếu kiểm soát quá trình giải quyết hồ sơ",
    FormKind.STOP_NOTICE: "Thông báo dừng xử lý hồ sơ",
    FormKind.RESULT: "Thông báo kết quả giải quyết hồ sơ",
}

HANDOVERS: list[dict[str, Any]] = [
    {
        "step": "receive",
        "title": "Tiếp nhận, kiểm tra hồ sơ",
        "giver": "Bộ phận Một cửa UBND xã Quân Chu",
        "receiver": "Công chức tư pháp - hộ tịch",
        "at": "08:10 ngày 03/03/2026",
        "due_at": "10:10 ngày 03/03/2026",
        "status": "Trước hạn",
    },
    {
        "step": "register_residence",
        "title": "Đăng ký thường trú",
        "giver": "Công chức tư pháp - hộ tịch",
        "receiver": "Công an xã Quân Chu",
        "at": "14:00 ngày 03/03/2026",
        "due_at": "14:00 ngày 05/03/2026",
        "status": "Quá hạn",
    },
    {
        "step": "issue_card",
        "title": "Cấp thẻ BHYT",
        "giver": "Công chức tư pháp - hộ tịch",
        "receiver": "Bảo hiểm xã hội tỉnh Thái Nguyên",
        "at": "14:05 ngày 03/03/2026",
        "due_at": "14:05 ngày 05/03/2026",
        "status": "Đúng hạn",
    },
    {
        "step": "return_result",
        "title": "Trả kết quả",
        "giver": "Bảo hiểm xã hội tỉnh Thái Nguyên",
        "receiver": "Bộ phận Một cửa UBND xã Quân Chu",
        "at": "09:00 ngày 06/03/2026",
        "due_at": None,
        "status": "Đang xử lý",
    },
]

DETAILS: dict[FormKind, dict[str, Any]] = {
    FormKind.RECEIPT: {
        "documents": [
            {"name": "Tờ khai đăng ký khai sinh", "copies": 1},
            {"name": "Giấy chứng sinh", "copies": 2},
        ]
    },
    FormKind.SUPPLEMENT_REQUEST: {
        "missing": ["Giấy chứng sinh (bản chính)", "Tờ khai CT01 có chữ ký chủ hộ"],
        "reason": "Hồ sơ thiếu giấy tờ bắt buộc",
        "deadline": "17:00 ngày 24/03/2026",
    },
    FormKind.REFUSAL: {"reason": "Trẻ đã được đăng ký khai sinh tại xã khác"},
    FormKind.APOLOGY: {
        "reason": "Cơ quan bảo hiểm xã hội chưa cấp được thẻ",
        "new_due_at": "16:00 ngày 09/03/2026",
    },
    FormKind.CONTROL_SLIP: {"handovers": HANDOVERS},
    FormKind.STOP_NOTICE: {"reason": "Quá thời hạn bổ sung hồ sơ mà chưa bổ sung"},
    FormKind.RESULT: {
        "result": "approved",
        "documents": [{"name": "Giấy khai sinh (bản chính)"}, {"name": "Thẻ bảo hiểm y tế"}],
    },
}


def _procedure() -> dict[str, Any]:
    data = yaml.safe_load(BIRTH.read_text(encoding="utf-8"))
    return Procedure.model_validate(data).model_dump(mode="json")


PROCEDURE = _procedure()


def context(kind: FormKind, **overrides: Any) -> dict[str, Any]:
    """The documented rendering context of one form, with `overrides` replacing top-level keys."""
    ctx: dict[str, Any] = {
        "procedure": copy.deepcopy(PROCEDURE),
        "form": {"number": NUMBERS[kind], "title": TITLES[kind]},
        "dossier": {
            "code": "000.00.19.H26-260303-0042",
            "channel": "online",
            "received_at": "08:05 ngày 03/03/2026",
            "due_at": "16:30 ngày 06/03/2026",
            "agency": {"code": "000.00.19.H26", "name": "UBND xã Quân Chu, tỉnh Thái Nguyên"},
            "applicant": {
                "full_name": EVIL_NAME,
                "id_number": "019190000123",
                "phone": "0912345678",
                "email": None,
                "address": "Xóm Đồng Tâm, xã Quân Chu, tỉnh Thái Nguyên",
            },
            "status": "received",
        },
        "issued_at": "08:06 ngày 03/03/2026",
        "details": copy.deepcopy(DETAILS[kind]),
    }
    ctx.update(overrides)
    return ctx


def template_text(kind: FormKind) -> str:
    return (FORMS / f"{kind.value}.html.j2").read_text(encoding="utf-8")


def render(kind: FormKind, undefined: type[Undefined] = Undefined, **overrides: Any) -> str:
    """Render from the template text alone, as the workflow does with the frozen source."""
    env = ImmutableSandboxedEnvironment(autoescape=True, undefined=undefined)
    return env.from_string(template_text(kind)).render(**context(kind, **overrides))


def text_of(html: str) -> str:
    """The visible text, tags dropped and white space collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


class _Balance(HTMLParser):
    """Checks that non-void elements open and close in order."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "col", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


ALL_KINDS = list(FormKind)


def test_every_form_kind_has_a_template() -> None:
    missing = [k.value for k in FormKind if not (FORMS / f"{k.value}.html.j2").is_file()]
    assert missing == []


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.value)
def test_template_is_self_contained_and_documents_its_context(kind: FormKind) -> None:
    text = template_text(kind)
    assert not re.search(r"{%-?\s*(extends|include|import|from)\b", text)
    assert '<meta charset="utf-8">' in text
    assert "<style>" in text and "<link" not in text
    for name in ("procedure", "form", "dossier", "issued_at", "details"):
        assert name in text.split("-#}", 1)[0], f"context name {name} not documented"


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.value)
def test_renders_the_header_a_reader_expects(kind: FormKind) -> None:
    html = render(kind)
    text = text_of(html)
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert "000.00.19.H26-260303-0042" in text
    assert f"Mẫu số {NUMBERS[kind]}" in text
    assert TITLES[kind] in text
    assert "Cộng hòa xã hội chủ nghĩa Việt Nam" in text
    assert "Độc lập - Tự do - Hạnh phúc" in text
    assert "UBND xã Quân Chu, tỉnh Thái Nguyên" in text
    assert "08:06 ngày 03/03/2026" in text


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.value)
def test_applicant_name_is_escaped_not_run(kind: FormKind) -> None:
    html = render(kind)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.value)
def test_html_elements_are_balanced(kind: FormKind) -> None:
    checker = _Balance()
    checker.feed(render(kind))
    checker.close()
    assert checker.errors == []
    assert checker.stack == []


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.value)
def test_uses_only_the_documented_context(kind: FormKind) -> None:
    """StrictUndefined fails on any name outside the documented context."""
    render(kind, undefined=StrictUndefined)


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.value)
def test_missing_optional_values_print_nothing(kind: FormKind) -> None:
    text = text_of(render(kind))
    assert "None" not in text
    assert "Undefined" not in text


def test_receipt_shows_appointment_documents_time_limit_and_fees() -> None:
    procedure = copy.deepcopy(PROCEDURE)
    procedure["fees"] = [{"name": "Lệ phí thử", "amount_vnd": 1500000, "exempt": ["Hộ nghèo"]}]
    text = text_of(render(FormKind.RECEIPT, procedure=procedure))
    assert "Thời gian trả kết quả giải quyết hồ sơ: 16:30 ngày 06/03/2026" in text
    assert "Thời gian nhận hồ sơ: 08:05 ngày 03/03/2026" in text
    assert "Tờ khai đăng ký khai sinh" in text and "Giấy chứng sinh" in text
    assert "3 ngày làm việc" in text
    assert "1.500.000 đồng" in text and "Hộ nghèo" in text
    assert "Trực tuyến" in text
    assert "Người tiếp nhận hồ sơ" in text and "Người nộp hồ sơ" in text


def test_receipt_counts_calendar_days_in_days() -> None:
    procedure = copy.deepcopy(PROCEDURE)
    procedure["time_limit"] = {"amount": 10.0, "unit": "calendar_days"}
    text = text_of(render(FormKind.RECEIPT, procedure=procedure))
    assert "theo quy định: 10 ngày." in text


def test_supplement_request_lists_everything_missing_and_the_deadline() -> None:
    text = text_of(render(FormKind.SUPPLEMENT_REQUEST))
    assert "Giấy chứng sinh (bản chính)" in text
    assert "Tờ khai CT01 có chữ ký chủ hộ" in text
    assert "Hồ sơ thiếu giấy tờ bắt buộc" in text
    assert "17:00 ngày 24/03/2026" in text


def test_supplement_request_without_deadline_says_nothing_about_one() -> None:
    details = {"missing": ["Giấy chứng sinh"], "reason": "Thiếu giấy tờ", "deadline": None}
    text = text_of(render(FormKind.SUPPLEMENT_REQUEST, undefined=StrictUndefined, details=details))
    assert "Thời hạn bổ sung" not in text
    details.pop("deadline")
    assert "Thời hạn bổ sung" not in text_of(
        render(FormKind.SUPPLEMENT_REQUEST, undefined=StrictUndefined, details=details)
    )


def test_refusal_and_stop_notice_give_their_reason() -> None:
    assert "Trẻ đã được đăng ký khai sinh tại xã khác" in text_of(render(FormKind.REFUSAL))
    assert "Quá thời hạn bổ sung hồ sơ mà chưa bổ sung" in text_of(render(FormKind.STOP_NOTICE))


def test_apology_gives_old_and_new_appointment() -> None:
    text = text_of(render(FormKind.APOLOGY))
    assert "16:30 ngày 06/03/2026" in text
    assert "16:00 ngày 09/03/2026" in text
    assert "Cơ quan bảo hiểm xã hội chưa cấp được thẻ" in text
    assert "xin lỗi" in text


def test_control_slip_lists_every_handover() -> None:
    html = render(FormKind.CONTROL_SLIP)
    table = html.split('<table class="grid">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>.*?</tr>", table, flags=re.S)
    assert len(rows) == 1 + len(HANDOVERS)
    for row, handover in zip(rows[1:], HANDOVERS, strict=True):
        cells = text_of(row)
        assert handover["title"] in cells
        assert handover["giver"] in cells
        assert handover["receiver"] in cells
        assert handover["at"] in cells
        assert handover["status"] in cells
    assert 'class="status-late">Quá hạn' in html


def test_control_slip_without_handovers_says_so() -> None:
    text = text_of(render(FormKind.CONTROL_SLIP, details={"handovers": []}))
    assert "Chưa có lần giao, nhận hồ sơ nào" in text


def test_result_notice_names_outcome_and_documents() -> None:
    text = text_of(render(FormKind.RESULT))
    assert "Hồ sơ đã được giải quyết xong." in text
    assert "Giấy khai sinh (bản chính)" in text and "Thẻ bảo hiểm y tế" in text
    refused = text_of(render(FormKind.RESULT, details={"result": "refused", "documents": []}))
    assert "Hồ sơ không được giải quyết." in refused
    assert "Kết quả gồm" not in refused
