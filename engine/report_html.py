"""The rule-change impact report as one self-contained HTML page (规则变更影响报告) for supervisors.

    html = render(whatif.as_dict())   # the document `suijian rules diff --json` prints

No script, no external style sheet, font or CDN: styles are inline and the bar charts are SVG drawn here. The page
is a function of the document only (no clock, no random ids), so the same inputs give byte-identical HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from engine.whatif.packdiff import shown

OLD_COLOUR = "#9aa5b1"
NEW_COLOUR = "#1f6feb"
MARK_COLOUR = "#d1242f"

_STYLE = """
body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",system-ui,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1f2328;line-height:1.5}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.3rem;border-bottom:2px solid #d0d7de;padding-bottom:.2rem;
margin-top:2.2rem}h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
small,.en{color:#57606a;font-weight:normal}
table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;vertical-align:top;text-align:left}
th{background:#f6f8fa}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.diag{background:#eef1f4}td.moved{background:#fff1e5;font-weight:bold}
tr.changed td{background:#fff8c5}
.added{color:#1a7f37}.removed{color:#cf222e}.modified{color:#9a6700}
.muted{color:#57606a}.card{border:1px solid #d0d7de;border-radius:6px;padding:.6rem 1rem;margin:.8rem 0}
nav a{margin-right:1rem}code{font-size:.85rem;background:#f6f8fa;padding:0 .2rem;white-space:nowrap}
summary{cursor:pointer;color:#57606a;margin:.8rem 0}
svg text{font-family:inherit}
""".strip()

_KIND = {"added": "新增 added", "removed": "删除 removed", "modified": "修改 modified"}


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _n(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else shown(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6g}"
    return _e(value)


def _pct(value: Any) -> str:
    return "—" if value is None else f"{100 * float(value):.2f}%"


def _delta(old: Any, new: Any) -> str:
    if isinstance(old, int | float) and isinstance(new, int | float) and not isinstance(old, bool):
        d = new - old
        if d == 0:
            return "0"
        return f"{d:+,}" if isinstance(d, int) else f"{d:+.4g}"
    return ""


Cell = str | tuple[str, str]
"""A table cell: escaped HTML, or (escaped HTML, CSS class) for a highlighted one."""


def _table(
    head: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    numeric: Sequence[int] = (),
    row_classes: Sequence[str] | None = None,
) -> str:
    """An HTML table; cells are already-escaped HTML, `numeric` columns are right-aligned."""
    out = ["<table>\n<thead><tr>"]
    out += [f"<th{' class=num' if i in numeric else ''}>{h}</th>" for i, h in enumerate(head)]
    out.append("</tr></thead>\n<tbody>\n")
    for k, row in enumerate(rows):
        cls = row_classes[k] if row_classes and row_classes[k] else ""
        out.append(f'<tr class="{cls}">' if cls else "<tr>")
        for i, cell in enumerate(row):
            text, extra = (cell, "") if isinstance(cell, str) else cell
            classes = " ".join(c for c in ("num" if i in numeric else "", extra) if c)
            attr = "" if not classes else (f" class={classes}" if " " not in classes else f' class="{classes}"')
            out.append(f"<td{attr}>{text}</td>")
        out.append("</tr>\n")
    out.append("</tbody>\n</table>")
    return "".join(out)


def _facts(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column table of label → value (escaped HTML) without a header."""
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>\n" for k, v in rows)
    return f"<table>\n<tbody>\n{body}</tbody>\n</table>\n"


def _text_width(text: str) -> int:
    """Roughly how wide a label is drawn at 12 px (CJK characters are about twice as wide as Latin)."""
    return sum(12 if ord(ch) > 0x2E80 else 7 for ch in text)


def bars(
    rows: Sequence[tuple[str, int, int]],
    *,
    title: str,
    marks: Sequence[int] | None = None,
    mark_label: str = "能力 capacity",
) -> str:
    """A horizontal grouped bar chart, old (grey) above new (blue) per label, with the figures; `marks` draws one
    tick per row (e.g. capacity)."""
    label_w = min(max((_text_width(r[0]) for r in rows), default=40) + 12, 360)
    bar_w = 460
    row_h = 34
    top = 26
    height = top + row_h * len(rows) + 6
    width = label_w + bar_w + 90
    top_value = max([max(r[1], r[2]) for r in rows] + list(marks or []) + [1])
    scale = bar_w / top_value
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{_e(title)}" font-size="12">',
        f'<rect x="{label_w}" y="6" width="12" height="10" fill="{OLD_COLOUR}"/>'
        f'<text x="{label_w + 16}" y="15">旧 old</text>'
        f'<rect x="{label_w + 70}" y="6" width="12" height="10" fill="{NEW_COLOUR}"/>'
        f'<text x="{label_w + 86}" y="15">新 new</text>',
    ]
    if marks is not None:
        out.append(
            f'<rect x="{label_w + 140}" y="5" width="2" height="12" fill="{MARK_COLOUR}"/>'
            f'<text x="{label_w + 146}" y="15">{_e(mark_label)}</text>'
        )
    for k, (label, old, new) in enumerate(rows):
        y = top + k * row_h
        out.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end">{_e(label)}</text>')
        for j, (value, colour) in enumerate(((old, OLD_COLOUR), (new, NEW_COLOUR))):
            w = value * scale
            yy = y + 3 + j * 13
            out.append(
                f'<rect x="{label_w}" y="{yy}" width="{w:.1f}" height="12" fill="{colour}"/>'
                f'<text x="{label_w + w + 4:.1f}" y="{yy + 10}">{value:,}</text>'
            )
        if marks is not None:
            x = label_w + marks[k] * scale
            out.append(f'<rect x="{x - 1:.1f}" y="{y}" width="2" height="30" fill="{MARK_COLOUR}"/>')
    out.append("</svg>")
    return "\n".join(out)


def _pack_line(side: Mapping[str, Any]) -> str:
    until = side["effective_to"] or "长期 open-ended"
    return (
        f"<code>{_e(side['directory'])}</code> — {_e(side['name'])} {_e(side['version'])} "
        f"({_e(side['effective_from'])} – {_e(until)}), <span class=muted>hash {_e(side['hash'][:12])}, "
        f"policy {_e(side['policy_hash'][:12])}</span>"
    )


def _header(doc: Mapping[str, Any]) -> str:
    plan = doc["plan"]
    rows = [
        ("评定日 as of", _e(doc["as_of"])),
        ("主体 subjects", f"{doc['subjects']:,}"),
        ("区域 regions", _e(", ".join(doc["regions"]) or "全部 all")),
        ("旧规则包 old pack", _pack_line(doc["old"])),
        ("新规则包 new pack", _pack_line(doc["new"])),
    ]
    if plan is not None:
        p = plan["period"]
        rows.append(
            (
                "计划 plan",
                f"{_e(p['label'])} ({_e(p['start'])} – {_e(p['end'])}), 种子 seed <code>{_e(plan['seed'])}</code>",
            )
        )
    summary = (
        f"<p><b>{doc['changed_subjects']:,}</b> 个主体至少一项结果改变 subjects with a changed result "
        f"({_share(doc['changed_subjects'], doc['subjects'])}); "
        f"{doc['fired_changed_subjects']:,} 个主体命中规则改变 subjects whose fired rules changed.</p>"
    )
    errors = doc["subjects_with_errors"]
    if errors["old"] or errors["new"]:
        summary += (
            f"<p class=removed>规则包错误（唯一命中表有两行同时命中） subjects hitting a rule-pack error: "
            f"旧 old {errors['old']:,}，新 new {errors['new']:,}</p>"
        )
    nav = ["<nav>"]
    for anchor, text in (
        ("changes", "规则变更"),
        ("distributions", "分布"),
        ("migration", "迁移矩阵"),
        ("outputs", "频次与任务"),
        ("plan", "计划影响"),
        ("sample", "样本"),
    ):
        if anchor == "plan" and plan is None:
            continue
        nav.append(f'<a href="#{anchor}">{text}</a>')
    nav.append("</nav>")
    return (
        "<h1>规则变更影响报告 <small>Rule-change impact</small></h1>\n"
        + _facts(rows)
        + summary
        + "\n"
        + "".join(nav)
        + "\n"
    )


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def _changes(doc: Mapping[str, Any]) -> str:
    ch = doc["changes"]
    out = ['<section id="changes"><h2>1 规则变更 <span class=en>Rule changes</span></h2>']
    if not any(ch[k] for k in ("decisions", "rules", "parameters", "policy")):
        out.append(
            "<p>两个规则包的决策、规则、参数和抽查计划参数完全相同。"
            "<span class=en>No decision, rule, parameter or plan-policy change.</span></p>"
        )
    if ch["decisions"]:
        out.append("<h3>决策表 <span class=en>Decisions</span></h3>")
        out.append(
            _table(
                ["决策 decision", "变更 change", "内容 what changed", "位置 where"],
                (
                    [
                        f"<code>{_e(c['id'])}</code>",
                        _kind(c["kind"]),
                        "<br>".join(_e(d) for d in c["details"]),
                        _e(c.get("where", "")),
                    ]
                    for c in ch["decisions"]
                ),
            )
        )
    if ch["rules"]:
        out.append("<h3>规则 <span class=en>Rules</span></h3>")
        rows = []
        for c in ch["rules"]:
            via = (
                f"<br><span class=muted>参数 via {_e(', '.join(c['parameters']))}</span>" if c.get("parameters") else ""
            )
            fired = c["fired"]
            rows.append(
                [
                    f"<code>{_e(c['id'])}</code>",
                    f"<code>{_e(c['decision'])}</code>",
                    _kind(c["kind"]),
                    "<br>".join(_e(d) for d in c["details"]) + via,
                    _n(fired["old"]),
                    _n(fired["new"]),
                    _e(c.get("where", "")),
                ]
            )
        out.append(
            _table(
                [
                    "规则 rule",
                    "决策 decision",
                    "变更 change",
                    "内容 what changed",
                    "命中(旧) fired old",
                    "命中(新) fired new",
                    "位置 where",
                ],
                rows,
                numeric=(4, 5),
            )
        )
    if ch["parameters"]:
        out.append("<h3>参数 <span class=en>Parameters</span></h3>")
        out.append(
            _table(
                ["参数 parameter", "变更 change", "旧 old", "新 new", "内容 what changed"],
                (
                    [
                        f"<code>{_e(c['id'])}</code>",
                        _kind(c["kind"]),
                        _e(shown(c["old"])),
                        _e(shown(c["new"])),
                        "<br>".join(_e(d) for d in c["details"]),
                    ]
                    for c in ch["parameters"]
                ),
            )
        )
    if ch["policy"]:
        out.append("<h3>抽查计划参数 <span class=en>Plan policy (policy.yaml)</span></h3>")
        out.append(
            _table(
                ["条目 entry", "变更 change", "旧 old", "新 new"],
                (
                    [f"<code>{_e(c['id'])}</code>", _kind(c["kind"]), _e(shown(c["old"])), _e(shown(c["new"]))]
                    for c in ch["policy"]
                ),
            )
        )
    out.append("</section>")
    return "\n".join(out)


def _kind(kind: str) -> str:
    return f'<span class="{_e(kind)}">{_e(_KIND.get(kind, kind))}</span>'


def _title(o: Mapping[str, Any]) -> str:
    return f"<code>{_e(o['name'])}</code> {_e(o['label'])}"


def _changed_first(parts: Sequence[tuple[Mapping[str, Any], str]]) -> list[str]:
    """Each output's block; the blocks of unchanged outputs folded into one <details> (no script needed)."""
    out = [html for o, html in parts if o["changed"]]
    quiet = [(o, html) for o, html in parts if not o["changed"]]
    if quiet:
        names = ", ".join(_e(o["name"]) for o, _ in quiet)
        out.append(f"<details><summary>无变化的输出 unchanged outputs ({len(quiet)}): {names}</summary>")
        out += [html for _, html in quiet]
        out.append("</details>")
    return out


def _distributions(doc: Mapping[str, Any]) -> str:
    out = [
        '<section id="distributions"><h2>2 分类分布（前后对比） <span class=en>Distributions before and after'
        "</span></h2>"
    ]
    parts = []
    for o in doc["outputs"]:
        if "matrix" not in o and o["type"] != "list":
            continue
        labels = list(dict.fromkeys([*o["old"], *o["new"]]))
        rows = [(lab, o["old"].get(lab, 0), o["new"].get(lab, 0)) for lab in labels]
        note = (
            "\n<p class=muted>每个检查事项的主体数（一个主体可有多项） subjects per item</p>"
            if o["type"] == "list"
            else ""
        )
        parts.append((o, f"<h3>{_title(o)}</h3>{note}\n" + bars(rows, title=f"{o['name']}: old vs new")))
    out += _changed_first(parts)
    out.append("</section>")
    return "\n".join(out)


def matrix_table(o: Mapping[str, Any]) -> str:
    """Rows: the value under the old pack; columns: under the new pack; the diagonal is unchanged."""
    labels = list(dict.fromkeys([*o["old"], *o["new"]]))
    cells = {(c["old"], c["new"]): c["subjects"] for c in o["matrix"]}
    head = ["旧 \\ 新 old \\ new", *(_e(lab) for lab in labels), "合计 total"]
    rows: list[list[Cell]] = []
    for a in labels:
        row: list[Cell] = [f"<b>{_e(a)}</b>"]
        for b in labels:
            n = cells.get((a, b), 0)
            text = f"{n:,}" if n else "·"
            row.append((text, "diag") if a == b else ((text, "moved") if n else text))
        row.append(f"{o['old'].get(a, 0):,}")
        rows.append(row)
    rows.append(["<b>合计 total</b>", *(f"{o['new'].get(b, 0):,}" for b in labels), f"{sum(o['old'].values()):,}"])
    return _table(head, rows, numeric=tuple(range(1, len(labels) + 2)))


def _migration(doc: Mapping[str, Any]) -> str:
    out = [
        '<section id="migration"><h2>3 迁移矩阵 <span class=en>Migration matrices (rows: old, columns: new)</span></h2>'
    ]
    parts = []
    for o in doc["outputs"]:
        if "matrix" not in o:
            continue
        moved = f"{o['changed']:,} 个主体改变 subjects changed" if o["changed"] else "无变化 no change"
        parts.append((o, f"<h3>{_title(o)} <small>{moved}</small></h3>\n" + matrix_table(o)))
    out += _changed_first(parts) if parts else ["<p>没有分类输出 no categorical output.</p>"]
    out.append("</section>")
    return "\n".join(out)


def _outputs(doc: Mapping[str, Any]) -> str:
    out = [
        '<section id="outputs"><h2>4 频次与任务清单变化 <span class=en>Changed frequencies and task lists</span></h2>'
    ]
    rows = []
    classes = []
    for o in doc["outputs"]:
        numeric = o["type"] in ("int", "float")
        rows.append(
            [
                _title(o),
                _e(o["type"]),
                f"{o['changed']:,}",
                _share(o["changed"], doc["subjects"]),
                f"{o['up']:,}" if numeric else "",
                f"{o['down']:,}" if numeric else "",
            ]
        )
        classes.append("changed" if o["changed"] else "")
    out.append(
        _table(
            ["输出 output", "类型 type", "改变的主体 subjects changed", "占比 share", "升高 rose", "降低 fell"],
            rows,
            numeric=(2, 3, 4, 5),
            row_classes=classes,
        )
    )
    for o in doc["outputs"]:
        if o["type"] != "list" or not o["changed"]:
            continue
        out.append(f"<h3>{_title(o)}</h3>")
        out.append(
            _table(
                ["事项 item", "旧 old", "新 new", "增加 gained", "减少 lost"],
                (
                    [
                        f"<code>{_e(i['item'])}</code>",
                        f"{i['old']:,}",
                        f"{i['new']:,}",
                        f"{i['gained']:,}",
                        f"{i['lost']:,}",
                    ]
                    for i in o["items"]
                ),
                numeric=(1, 2, 3, 4),
                row_classes=["changed" if i["gained"] or i["lost"] else "" for i in o["items"]],
            )
        )
    out.append("</section>")
    return "\n".join(out)


def _plan(doc: Mapping[str, Any]) -> str:
    plan = doc["plan"]
    if plan is None:
        return ""
    out = [
        '<section id="plan"><h2>5 计划影响 <span class=en>Plan impact</span></h2>',
        f"<p>期间 period {_e(plan['period']['label'])}，种子 seed <code>{_e(plan['seed'])}</code>；"
        "两个计划使用相同的主体、检查事项、人员和历史记录，只有规则包和抽查计划参数不同。"
        "<span class=en> Both plans use the same subjects, items, roster and history.</span></p>",
    ]
    if plan.get("headline"):
        out.append(f'<p class="headline"><strong>{_e(plan["headline"])}</strong></p>')
    rows, classes = [], []
    for m in plan["metrics"]:
        rate = m["key"].endswith("rate")
        rows.append(
            [
                _e(m["label"]),
                _pct(m["old"]) if rate else _n(m["old"]),
                _pct(m["new"]) if rate else _n(m["new"]),
                "" if rate else _delta(m["old"], m["new"]),
            ]
        )
        classes.append("changed" if m["old"] != m["new"] else "")
    out.append(_table(["指标 figure", "旧 old", "新 new", "变化 change"], rows, numeric=(1, 2, 3), row_classes=classes))
    s = plan["subjects"]
    out.append(
        f"<p>被检查主体 subjects visited: 旧 old {s['visited_old']:,}，新 new {s['visited_new']:,}；"
        f"仅在旧计划 only old {s['only_old']:,}，仅在新计划 only new {s['only_new']:,}。</p>"
    )

    out.append("<h3>各抽查事项 <span class=en>Quotas per check item</span></h3>")
    rows, classes = [], []
    for i in plan["items"]:
        a, b = i["old"] or {}, i["new"] or {}
        rows.append(
            [
                f"<code>{_e(i['code'])}</code> {_e(i['name'])}",
                _n(a.get("population")),
                _n(a.get("quota")),
                _n(b.get("quota")),
                _delta(a.get("quota"), b.get("quota")),
                f"{_n(a.get('mandatory_planned'))}/{_n(a.get('mandatory_required'))}",
                f"{_n(b.get('mandatory_planned'))}/{_n(b.get('mandatory_required'))}",
            ]
        )
        classes.append("changed" if i["changed"] else "")
    out.append(
        _table(
            [
                "事项 item",
                "对象数 population",
                "配额(旧) quota old",
                "配额(新) quota new",
                "变化 change",
                "必查(旧) mandatory old",
                "必查(新) mandatory new",
            ],
            rows,
            numeric=(1, 2, 3, 4, 5, 6),
            row_classes=classes,
        )
    )
    strata = [(i["code"], s) for i in plan["items"] for s in i["strata"]]
    if strata:
        out.append("<h4>配额改变的分层 <span class=en>Strata whose quota or ratio changed</span></h4>")
        out.append(
            _table(
                [
                    "事项 item",
                    "分层 stratum",
                    "对象(旧) population old",
                    "比例(旧) ratio old",
                    "配额(旧) quota old",
                    "对象(新) population new",
                    "比例(新) ratio new",
                    "配额(新) quota new",
                ],
                (
                    [
                        f"<code>{_e(code)}</code>",
                        _e(s["stratum"]),
                        *(
                            _n((s[side] or {}).get(k))
                            for side in ("old", "new")
                            for k in ("population", "ratio", "quota")
                        ),
                    ]
                    for code, s in strata
                ),
                numeric=(2, 3, 4, 5, 6, 7),
            )
        )

    if plan["regions"]:
        out.append("<h3>各区域入企检查 <span class=en>Visits planned per region</span></h3>")
        rows_r = [(f"{r['name']} {r['code']}".strip(), r["old_planned"], r["new_planned"]) for r in plan["regions"]]
        out.append(bars(rows_r, title="visits planned per region, old vs new"))
        out.append(
            _table(
                [
                    "区域 region",
                    "已安排(旧) planned old",
                    "已安排(新) planned new",
                    "未安排(旧) not planned old",
                    "未安排(新) not planned new",
                ],
                (
                    [
                        f"{_e(r['name'])} <code>{_e(r['code'])}</code>",
                        f"{r['old_planned']:,}",
                        f"{r['new_planned']:,}",
                        f"{r['old_not_planned']:,}",
                        f"{r['new_not_planned']:,}",
                    ]
                    for r in plan["regions"]
                ),
                numeric=(1, 2, 3, 4),
            )
        )
    if plan["units"]:
        out.append("<h3>各单位人员检查户次与能力 <span class=en>Inspector-visits against capacity per unit</span></h3>")
        rows_u = [(u["unit"], u["old_visits"], u["new_visits"]) for u in plan["units"]]
        out.append(
            bars(
                rows_u,
                title="inspector-visits per unit, old vs new, with capacity",
                marks=[u["new_capacity"] for u in plan["units"]],
            )
        )
        out.append(
            _table(
                [
                    "单位 unit",
                    "人员 inspectors",
                    "户次(旧) visits old",
                    "户次(新) visits new",
                    "能力(旧) capacity old",
                    "能力(新) capacity new",
                ],
                (
                    [
                        _e(u["unit"]),
                        f"{u['inspectors']:,}",
                        f"{u['old_visits']:,}",
                        f"{u['new_visits']:,}",
                        f"{u['old_capacity']:,}",
                        f"{u['new_capacity']:,}",
                    ]
                    for u in plan["units"]
                ),
                numeric=(1, 2, 3, 4, 5),
            )
        )
    out.append("</section>")
    return "\n".join(out)


def _fired(fired: Sequence[Mapping[str, str]]) -> str:
    if not fired:
        return "<span class=muted>（没有规则命中 no rule fired）</span>"
    return "<br>".join(
        f"<code>{_e(f['id'])}</code> {_e(f['reason'])} <span class=muted>{_e(f['at'])}</span>" for f in fired
    )


def _sample(doc: Mapping[str, Any]) -> str:
    out = [
        f'<section id="sample"><h2>6 样本（按统一社会信用代码排序的前 {doc["sample_size"]} 个改变的主体） '
        "<span class=en>Sample: the first changed subjects by USCC, with explanations</span></h2>"
    ]
    if not doc["sample"]:
        out.append(
            "<p>没有要求样本（--sample 0）。<span class=en>No sample asked for.</span></p>"
            if doc["changed_subjects"]
            else "<p>没有结果改变的主体。<span class=en>No subject's result changed.</span></p>"
        )
    for s in doc["sample"]:
        out.append(f'<div class="card"><h3><code>{_e(s["uscc"])}</code> {_e(s["name"])}</h3>')
        out.append(
            _table(
                ["输出 output", "旧 old", "新 new"],
                ([f"<code>{_e(c['output'])}</code>", _e(shown(c["old"])), _e(shown(c["new"]))] for c in s["changes"]),
            )
        )
        # Each decision takes two rows, old above new, its name spanning both.
        body = []
        for d in s["decisions"]:
            for side, text in (("old", "旧 old"), ("new", "新 new")):
                outputs = "；".join(f"{k} = {shown(v)}" for k, v in d[side]["outputs"].items())
                first = (
                    f'<td rowspan="2"><code>{_e(d["decision"])}</code> {_e(d["description"])}</td>'
                    if side == "old"
                    else ""
                )
                body.append(
                    f"<tr>{first}<td>{text}</td><td>{_e(outputs)}</td><td>{_fired(d[side]['fired'])}</td></tr>\n"
                )
        out.append(
            "<table>\n<thead><tr><th>决策 decision</th><th></th><th>结果 result</th>"
            "<th>命中规则与理由 fired rules and reasons</th></tr></thead>\n<tbody>\n"
            + "".join(body)
            + "</tbody>\n</table>"
        )
        if s["features"]:
            feats = "，".join(f"<code>{_e(k)}</code> = {_e(shown(v))}" for k, v in s["features"].items())
            out.append(f"<p class=muted>规则读取的特征 features read: {feats}</p>")
        out.append("</div>")
    out.append("</section>")
    return "\n".join(out)


def render(doc: Mapping[str, Any]) -> str:
    """The report for one `WhatIf.as_dict()` document: UTF-8 HTML, lang zh-CN, no external resources."""
    title = (
        f"规则变更影响报告 {doc['old']['name']} {doc['old']['version']} → {doc['new']['name']} "
        f"{doc['new']['version']}（{doc['as_of']}）"
    )
    body = "\n".join(
        part
        for part in (
            _header(doc),
            _changes(doc),
            _distributions(doc),
            _migration(doc),
            _outputs(doc),
            _plan(doc),
            _sample(doc),
        )
        if part
    )
    footer = (
        f"<footer class=muted><p>suijian rules diff · {_e(doc['format'])} · 旧 {_e(doc['old']['hash'][:12])}"
        f" → 新 {_e(doc['new']['hash'][:12])}</p></footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>\n{_STYLE}\n</style>\n</head>\n<body>\n{body}\n{footer}\n</body>\n</html>\n"
    )
