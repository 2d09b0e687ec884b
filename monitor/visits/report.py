"""The weekly coverage report as a file: XLSX (a summary sheet and one sheet per street) or CSV."""

from __future__ import annotations

import csv
import io
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from monitor.store.models import VISIT_METHODS
from monitor.timeutil import to_local
from monitor.visits.coverage import CommunityWeek, CoverageReport, ElderWeek
from monitor.visits.visits import METHOD_LABELS

Format = Literal["xlsx", "csv"]
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
SUMMARY_SHEET = "汇总"
SUMMARY_HEADER = ["街道", "社区", "服务对象人数", "其中重点对象", "本周应探访人数", "已完成人数",
                  "未完成人数", "完成率"] + [METHOD_LABELS[m] for m in VISIT_METHODS]
ELDER_HEADER = ["社区", "老人编号", "姓名", "重点对象", "类别", "本周应联系次数", "其中需人工联系",
                "已计次数"] + [METHOD_LABELS[m] for m in VISIT_METHODS] + [
                "是否完成", "未完成原因", "探访联系人", "最近联系时间"]
BOLD = Font(bold=True)
TODO = PatternFill("solid", fgColor="FFF2CC")


def _rate(group: CommunityWeek) -> str:
    return f"{group.covered / group.required:.0%}" if group.required else "—"


def _summary_line(street: str, community: str, group: CommunityWeek) -> list[Any]:
    return [street, community, group.elders, group.key_objects, group.required, group.covered,
            group.uncovered, _rate(group)] + [group.contacts.get(m, 0) for m in VISIT_METHODS]


def _elder_line(row: ElderWeek) -> list[Any]:
    last = to_local(row.last_visit_at).strftime("%Y-%m-%d %H:%M") if row.last_visit_at else ""
    data = row.as_api()
    return [row.community.name, row.elder.id, data["elder_name"], "是" if row.elder.key_object
            else "否", "、".join(row.elder.categories or []), row.need.contacts,
            row.need.person_contacts, row.counted] + [row.contacts.get(m, 0)
            for m in VISIT_METHODS] + ["是" if row.covered else "否", "；".join(row.reasons()),
            data["visit_contact"] or "", last]


def _care_line(report: CoverageReport) -> str:
    if not report.care_days:
        return ""
    days = "、".join(f"{d.day.month}月{d.day.day}日{d.name}" for d in report.care_days)
    return f"本周有重点关爱日（{days}），应联系次数已相应增加。"


def _sheet_title(name: str, taken: set[str]) -> str:
    clean = "".join("_" if c in "[]:*?/\\" else c for c in name)[:31] or "街道"
    title, n = clean, 2
    while title in taken:
        title = f"{clean[:28]}({n})"
        n += 1
    taken.add(title)
    return title


def _widths(sheet: Any, widths: list[int]) -> None:
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width


def xlsx_bytes(report: CoverageReport) -> bytes:
    """The XLSX workbook: 汇总 (per street and community, with totals), a sheet per street."""
    book = Workbook()
    summary = book.active
    summary.title = SUMMARY_SHEET
    summary.append([f"特殊困难老年人探访关爱服务周汇总表　{report.week.label()}"])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append([_care_line(report) or "统计口径：每周联系次数按本系统探访覆盖规则计算。"])
    summary.append(SUMMARY_HEADER)
    for cell in summary[3]:
        cell.font = BOLD
    groups = report.by_community()
    for street in report.streets():
        in_street = [g for g in groups if g.street == street]
        for group in in_street:
            summary.append(_summary_line(street, group.community_name, group))
        street_total = CommunityWeek(street, "", "")
        for group in in_street:
            street_total.elders += group.elders
            street_total.key_objects += group.key_objects
            street_total.required += group.required
            street_total.covered += group.covered
            for m, n in group.contacts.items():
                street_total.contacts[m] = street_total.contacts.get(m, 0) + n
        summary.append(_summary_line(street, "小计", street_total))
        for cell in summary[summary.max_row]:
            cell.font = BOLD
    summary.append(_summary_line("合计", "", report.total()))
    for cell in summary[summary.max_row]:
        cell.font = BOLD
    _widths(summary, [14, 14] + [12] * (len(SUMMARY_HEADER) - 2))

    taken = {SUMMARY_SHEET}
    for street in report.streets():
        sheet = book.create_sheet(_sheet_title(street, taken))
        sheet.append([f"{street}　探访关爱服务周报　{report.week.label()}"])
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append(["未完成的老人排在前面（黄色），即本周待办名单。" + _care_line(report)])
        sheet.append(ELDER_HEADER)
        for cell in sheet[3]:
            cell.font = BOLD
        rows = [r for r in report.rows if r.community.street == street]
        rows.sort(key=lambda r: (r.community.id, r.covered or not r.required, r.elder.id))
        for row in rows:
            sheet.append(_elder_line(row))
            if row.required and not row.covered:
                for cell in sheet[sheet.max_row]:
                    cell.fill = TODO
        for cell in sheet["K"]:  # reasons wrap
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        _widths(sheet, [12, 10, 8, 8, 16, 8, 8, 8] + [8] * len(VISIT_METHODS)
                + [8, 40, 10, 17])
        sheet.freeze_panes = "A4"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


CSV_HEADER = ["week", "street", "community", "community_name", "elder_id", "elder_name",
              "key_object", "required", "person_required", "counted"] + [
              f"contacts_{m}" for m in VISIT_METHODS] + [
              "covered", "reasons", "visit_contact", "last_visit_at"]


def csv_bytes(report: CoverageReport) -> bytes:
    """One line per elder (the to-do list and its figures), UTF-8 with a BOM for Excel."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in report.rows:
        data = row.as_api()
        last = to_local(row.last_visit_at).isoformat() if row.last_visit_at else ""
        writer.writerow([str(report.week), row.community.street, row.community.id,
                         row.community.name, row.elder.id, data["elder_name"],
                         int(row.elder.key_object), row.need.contacts, row.need.person_contacts,
                         row.counted] + [row.contacts.get(m, 0) for m in VISIT_METHODS] + [
                         int(row.covered), "；".join(row.reasons()), data["visit_contact"] or "",
                         last])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def render(report: CoverageReport, fmt: Format) -> bytes:
    """The report in the format asked for."""
    return xlsx_bytes(report) if fmt == "xlsx" else csv_bytes(report)


def filename(report: CoverageReport, fmt: Format) -> str:
    return f"coverage-{report.week}.{fmt}"
