"""The plan's 公示 at the start of the period (一公开): what a citizen needs to check the draw with the public package.

    announcement(plan, plan_id=…, ledger=…, commitment=…, names=…) -> Sheets
    to_xlsx(sheets, stamp=…) -> bytes

Four sheets: the plan (period, regions, seed, the seed commitment and its SHA-256, the ticket method, the ledger
entry and head, the pack, λ), the check items (population, legal floor, cap, asked and fitted quotas, drawn), the
strata (for a fitted plan the published cells: ratio asked and fitted, quota, drawn, cut-off and next ticket) and
the drawn subjects with their tickets. Anyone recomputes a ticket with `consistent_sampler.first_ticket(USCC, seed)`
and checks that each stratum drew exactly its smallest tickets up to the quota.

Pure: plain data in, bytes out; the same plan and inputs give the same bytes (the workbook's times are `stamp`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from engine.output_file import xlsx_bytes
from engine.plan.model import Plan

Sheets = dict[str, list[list[Any]]]  # sheet title → rows, the header first

CHECK = (
    'python -c \'from consistent_sampler import first_ticket; print(first_ticket("<USCC>", "<seed>").ticket_number)\''
)


def announcement(
    plan: Plan,
    *,
    plan_id: str,
    ledger: Mapping[str, Any],
    commitment: Mapping[str, Any] | None,
    names: Mapping[str, str],
) -> Sheets:
    """The four sheets of the plan's 公示. `ledger` holds the plan entry's seq, entry_hash and pack (name, version,
    hash) and the ledger head (seq, hash); `commitment` the seed commitment's run id and seed_sha256 (None: the
    seed was not committed first); `names` USCC → subject name."""
    pack = ledger.get("pack") or {}
    fit = plan.fit or {}
    about: list[list[Any]] = [
        ["项目 field", "内容 value"],
        ["计划编号 plan", plan_id],
        ["期间 period", f"{plan.period.label}（{plan.period.start} 至 {plan.period.end}）"],
        ["区域 regions", "、".join(plan.regions) or "全部 all"],
        ["评定日 as of", plan.as_of.isoformat()],
        ["随机种子 seed", plan.seed],
        [
            "种子承诺 seed commitment",
            f"{commitment['run_id']}：SHA-256 {commitment['seed_sha256']}" if commitment else "未事先承诺 none",
        ],
        ["抽签方法 tickets", f"{plan.scheme}：consistent-sampler first_ticket(USCC, seed)，每层抽取最小的签号"],
        ["核验 check a ticket", CHECK],
        ["台账记录 ledger entry", f"#{ledger.get('seq')} {ledger.get('entry_hash')}"],
        ["台账头 ledger head", f"#{ledger.get('head_seq')} {ledger.get('head_hash')}"],
        ["规则包 pack", f"{pack.get('name')} {pack.get('version')}（{pack.get('hash')}）"],
        ["计划格式 format", plan.format],
    ]
    if fit:
        lam = "；".join(f"{p} {v}" for p, v in fit.get("lambda", {}).items())
        about.append(["容量拟合 λ (share of the asked ratios)", lam])
        for layer in fit.get("layers", []):
            about.append(
                [
                    f"层 layer {layer['name']}",
                    f"需求 {layer['demand']:,}，安排 {layer['covered']:,}，缺口 {layer['shortfall']:,}",
                ]
            )
    fitted = {row["item"]: row for row in fit.get("items", [])}
    short: dict[str, int] = {}
    for layer in fit.get("layers", []):
        if layer["name"] == "ratios":
            for row in layer["left_out"]:
                short[row["what"]] = short.get(row["what"], 0) + row["visits"]
    items: list[list[Any]] = [
        [
            "事项编码 item",
            "事项名称 name",
            "类别 kind",
            "对象数 population",
            "可抽 eligible",
            "法定最低 legal floor",
            "上限 cap",
            "按比例应抽 asked",
            "拟合后 fitted quota",
            "抽中 drawn",
        ]
    ]
    for i in plan.items:
        f = fitted.get(i.code, {})
        items.append(
            [
                i.code,
                i.name,
                i.kind,
                i.population,
                i.eligible,
                f.get("floor_required") or None,
                f.get("cap_quota"),
                i.quota + short.get(i.code, 0) if f else i.quota,
                i.quota,
                i.drawn_count,
            ]
        )
    strata: list[list[Any]] = [
        [
            "事项编码 item",
            "层 stratum",
            "分层依据 key",
            "层内对象 population",
            "应抽比例 ratio asked",
            "拟合比例 ratio fitted",
            "抽取数 quota",
            "抽中 drawn",
            "截止签号 cut-off",
            "下一签号 next",
        ]
    ]
    drawn: list[list[Any]] = [["事项编码 item", "统一社会信用代码 USCC", "名称 name", "层 stratum", "签号 ticket"]]
    for i in plan.items:
        for s in i.strata:
            key = "，".join(f"{k}={v}" for k, v in sorted(s.key.items()) if k != "cell")
            cut = s.draw.cutoff
            nxt = s.draw.next_in_line
            strata.append(
                [
                    i.code,
                    s.stratum,
                    key,
                    s.draw.population,
                    s.ratio_asked or s.ratio,
                    s.ratio,
                    s.draw.quota,
                    len(s.draw.drawn),
                    cut.ticket_number if cut is not None else None,
                    nxt.ticket_number if nxt is not None else None,
                ]
            )
            for t in s.draw.drawn:
                drawn.append([i.code, t.id, names.get(t.id, ""), s.stratum, t.ticket_number])
    return {"抽查计划": about, "抽查事项": items, "分层抽取": strata, "抽中名单": drawn}


def to_xlsx(sheets: Sheets, *, stamp: dt.date) -> bytes:
    """The sheets as one workbook (bold headers, the header row frozen, an autofilter); the same sheets and stamp
    give the same bytes."""
    workbook = Workbook(write_only=True)
    when = dt.datetime.combine(stamp, dt.time())
    workbook.properties.created = when
    workbook.properties.modified = when
    workbook.properties.creator = "suijian"
    bold = Font(bold=True)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title=title[:31])
        width = max((len(r) for r in rows), default=1)
        for n in range(1, width + 1):
            sheet.column_dimensions[get_column_letter(n)].width = 22 if n > 1 else 18
        sheet.freeze_panes = "A2"
        sheet.auto_filter.ref = f"A1:{get_column_letter(width)}{max(len(rows), 1)}"
        for k, row in enumerate(rows):
            if k == 0:
                header = []
                for text in row:
                    cell = WriteOnlyCell(sheet, value=text)
                    cell.font = bold
                    header.append(cell)
                sheet.append(header)
            else:
                sheet.append(list(row))
    return xlsx_bytes(workbook)  # no wall clock in the bytes
