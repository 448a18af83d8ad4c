"""Generate a synthetic district batch by batch, as rows ready for the store.

Each batch holds up to `batch_size` subjects and every row that depends on them (licences, list entries,
penalties, complaints, past checks, special equipment and its accidents, food and medical-device businesses,
conflicts of interest). Everything is vectorised with numpy per batch, so memory stays bounded by the batch and
city-size districts take minutes. Inspectors come first, in a batch of their own, because checks and conflicts
name them.

Determinism: batch b draws from its own stream (SeedSequence(seed, spawn_key=(b,))), and every date is an
offset from `as_of`; the same profile, seed and as-of give the same rows, in the same order, every time.
Identifiers are unique by construction: USCCs, registration codes and document numbers embed a counter that
never repeats within one generation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.synth import vocab
from engine.synth.profiles import Profile, apportion
from entities.enums import PUBLIC_GATHERING
from entities.store import builtin_regions

BATCH_SIZE = 50_000
EPOCH = dt.date(1970, 1, 1)
YEAR = 365.2425
KINDS = ("enterprise", "individual", "cooperative")
ENT, IND, COOP = 0, 1, 2
# USCCs replaced the old codes from 1 October 2015 (三证合一); older enterprises kept their organisation code.
USCC_START = (dt.date(2015, 10, 1) - EPOCH).days
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64)
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)  # GB 11714 organisation-code check
_ASCII_VALUE = np.full(128, -1, dtype=np.int64)
for _i, _c in enumerate(_USCC_ALPHABET):
    _ASCII_VALUE[ord(_c)] = _i
_ALPHABET_ASCII = np.frombuffer(_USCC_ALPHABET.encode(), dtype=np.uint8)
# The tables a generation writes, in load order.
TABLES = (
    "org_unit",
    "inspector",
    "subject",
    "licence",
    "list_entry",
    "penalty",
    "complaint",
    "check_result",
    "equipment",
    "accident",
    "food_business",
    "device_business",
    "conflict",
    "annual_report",
)
_STATUS_P = {  # cancelled, revoked, moved_out, annulled (see profiles.py); 吊销 is drawn at about 1.7 × the
    # seed's 0.14 % because only subjects three or more years old can be revoked.
    ENT: (0.03, 0.0025, 0.006, 0.0002),
    IND: (0.032, 0.0025, 0.001, 0.0001),
    COOP: (0.02, 0.003, 0.001, 0.0),
}
_STATUSES = ("active", "cancelled", "revoked", "moved_out", "annulled")
_EQUIPMENT_STATUS = ("in_use", "stopped", "scrapped")
_STATUS_RESULT = {1: "cancelled", 2: "revoked", 3: "moved_out", 4: "annulled"}
_OLD_AGE = {ENT: (7.0, 40.0), IND: (4.0, 35.0), COOP: (4.0, 18.0)}  # mean extra years beyond five, max years


# (industry-code prefixes, subject kinds) pairs, tried in order when choosing who runs a business.
Pools = tuple[tuple[tuple[str, ...], tuple[int, ...]], ...]


@dataclass(frozen=True)
class _Food:
    licence_kind: str  # LicenceKind
    food_kind: str  # FoodLicenceKind
    jy_digit: str  # 1 食品销售, 2 餐饮服务, 3 单位食堂; "" for production
    static: float  # typical static risk points (of 40)
    dynamic: float  # typical dynamic risk points (of 60) for an average subject
    pools: Pools  # where its operators come from, in order of preference


_ANY = (ENT, IND, COOP)
# Static points follow 食品生产经营风险分级管理办法: category, format and scale, who eats it; school canteens and
# producers score high. Dynamic points rise with the subject's latent risk. Tuned so that ≤30/45/60 gives mostly
# A and B, some C and a few D (assumed mix: catering ≈ 25/55/17/3 %, trade ≈ 55/38/6/1 %, producers ≈ 15/55/25/5 %).
# The catalogue's food item for each food licence kind (past checks carry item codes: 令49号 第22条 and 第42条
# are about checks of an item, not any check).
_FOOD_ITEM = {"production": "SP-SC-01", "special_food": "SP-SC-01", "trade": "SP-XS-01", "catering": "SP-CY-01"}
FOOD: dict[str, _Food] = {
    "school_canteen": _Food(
        "food_trade",
        "catering",
        "3",
        25,
        13,
        ((("P83",), _ANY), (("H6241",), _ANY), (("H62",), (ENT,)), (("H62",), _ANY)),
    ),
    "canteen": _Food("food_trade", "catering", "3", 20, 16, ((("C", "Q84", "E47", "G54"), (ENT,)), (("",), (ENT,)))),
    "central_kitchen": _Food("food_trade", "catering", "2", 27, 12, ((("H6241", "H62"), (ENT,)), (("H62",), _ANY))),
    "group_catering": _Food(
        "food_trade", "catering", "2", 26, 12, ((("H6241",), (ENT,)), (("H62",), (ENT,)), (("H62",), _ANY))
    ),
    "restaurant": _Food(
        "food_trade",
        "catering",
        "2",
        20,
        17,
        ((("H6210", "H6231", "H6299", "H6110", "H6121"), _ANY), (("H62",), _ANY)),
    ),
    "snack": _Food("food_trade", "catering", "2", 17, 19, ((("H6291", "H6220", "H6299"), _ANY), (("H62",), _ANY))),
    "supermarket": _Food(
        "food_trade",
        "trade",
        "1",
        15,
        14,
        ((("F5212", "F5211"), _ANY), (("F5219",), (ENT,)), (("F52",), _ANY)),
    ),
    "grocery": _Food(
        "food_trade",
        "trade",
        "1",
        11,
        17,
        ((("F5219", "F5221", "F5223", "F5224", "F5226", "F5299"), _ANY), (("F52",), _ANY)),
    ),
    "wholesale": _Food("food_trade", "trade", "1", 14, 15, ((("F5121", "F5123", "F5127"), _ANY), (("F51",), _ANY))),
    "online": _Food("food_trade", "trade", "1", 13, 16, ((("F5292",), _ANY), (("F52",), _ANY))),
    "manufacturer": _Food(
        "food_production",
        "production",
        "",
        21,
        17,
        ((("C13", "C14", "C15"), (ENT,)), (("C13", "C14", "C15"), _ANY), (("C",), (ENT,))),
    ),
    "small_workshop": _Food(
        "food_production", "production", "", 20, 20, ((("C14", "C13"), (IND,)), (("C13", "C14", "C15"), _ANY))
    ),
    "special_food": _Food("special_food", "special_food", "", 26, 14, ((("C1491", "C14"), (ENT,)), (("C",), (ENT,)))),
}
_FOOD_SC_CATEGORIES = (
    "101",
    "103",
    "104",
    "106",
    "107",
    "108",
    "110",
    "111",
    "114",
    "117",
    "118",
    "121",
    "124",
    "127",
)
_DEVICE_POOLS = {
    "trade": ((("F5251", "F5254", "F5151", "F5154"), _ANY), (("F525", "F515"), _ANY), (("F52", "F51"), _ANY)),
    "production": ((("C3584",), (ENT,)), (("C358", "C27"), (ENT,)), (("C",), (ENT,))),
}
# 重点监管目录 share by (activity, class) (assumed: implants and sterile devices are mostly class III).
_KEY_CATALOGUE = {"production:III": 0.6, "production:II": 0.25, "trade:III": 0.2, "trade:II": 0.03}


def _days(d: dt.date) -> int:
    return (d - EPOCH).days


def _year(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def to_dates(days: np.ndarray) -> list[dt.date]:
    return days.astype("datetime64[D]").tolist()


def add_years(days: np.ndarray, years: np.ndarray) -> np.ndarray:
    """The same calendar day `years` later (29 February becomes 28 February), as days since 1970."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    day_of_month = (d - month.astype("datetime64[D]")).astype(np.int64)
    target = month + (np.asarray(years, dtype=np.int64) * 12).astype("timedelta64[M]")
    start = target.astype("datetime64[D]")
    length = ((target + np.timedelta64(1, "M")).astype("datetime64[D]") - start).astype(np.int64)
    return (start + np.minimum(day_of_month, length - 1).astype("timedelta64[D]")).astype(np.int64)


def _years_between(start: np.ndarray, end: int) -> np.ndarray:
    """Whole years from each start day to `end` (how many anniversaries have passed)."""
    years = np.floor((end - start) / YEAR).astype(np.int64)
    years = np.maximum(years, 0)
    years -= (add_years(start, years) > end).astype(np.int64)
    years += (add_years(start, years + 1) <= end).astype(np.int64)
    return np.maximum(years, 0)


def _pick(rng: np.random.Generator, candidates: np.ndarray, k: int, weights: np.ndarray | None = None) -> np.ndarray:
    """k of the candidates without replacement (weighted by Gumbel keys), in ascending order."""
    if k <= 0:
        return candidates[:0]
    if k >= len(candidates):
        return candidates
    keys = rng.gumbel(size=len(candidates))
    if weights is not None:
        keys = keys + np.log(np.maximum(weights, 1e-12))
    chosen = np.argpartition(-keys, k - 1)[:k]
    return np.sort(candidates[chosen])


def _choice(rng: np.random.Generator, pairs: Sequence[tuple[Any, float]], size: int) -> np.ndarray:
    """Indices into `pairs` drawn by their weights."""
    p = np.array([w for _, w in pairs], dtype=float)
    return rng.choice(len(pairs), size=size, p=p / p.sum())


def _ascii_strings(codes: np.ndarray) -> list[str]:
    """Rows of ASCII codes (uint8 matrix) as Python strings."""
    width = codes.shape[1]
    return np.ascontiguousarray(codes).view(f"S{width}").ravel().astype(f"U{width}").tolist()


def _seq_in_groups(keys: np.ndarray, counters: dict[int, int]) -> np.ndarray:
    """For each row, the next number in its group (e.g. per county and year), continuing across batches."""
    seq = np.empty(len(keys), dtype=np.int64)
    if not len(keys):
        return seq
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        key = int(sorted_keys[s])
        base = counters.get(key, 0)
        seq[order[s:e]] = base + 1 + np.arange(e - s)
        counters[key] = base + e - s
    return seq


def weekly_capacity(yearly: int) -> int:
    """A demo inspector's weekly capacity: a twentieth of the yearly one, rounded up (at least 1 for anyone available).

    Twenty weeks, not fifty: checks come in batches (月/季 批次) and share the weeks with other duties, so a week
    with checks holds more than an average week; 60 a year gives 3 a week, 120 gives 6."""
    return -(-yearly // 20) if yearly > 0 else 0


class Generator:
    """A synthetic district for one profile, seed and as-of date; iterate `batches()` to get its rows."""

    def __init__(self, profile: Profile, seed: int, as_of: dt.date, batch_size: int = BATCH_SIZE) -> None:
        self.profile = profile
        self.seed = int(seed)
        self.as_of = as_of
        self.today = _days(as_of)
        self.batch_size = max(1, int(batch_size))
        self.n = profile.total_subjects
        self._setup_places()
        self._setup_industries()
        # Organisation codes are handed out in rising order with random gaps (as registration authorities do,
        # roughly), from a per-seed start: unique by construction, and the store's uscc indexes grow at a few
        # points instead of at random places, which keeps city-size loads fast.
        state = np.random.SeedSequence(self.seed).generate_state(2, dtype=np.uint64)
        self._digits_start = int(state[0] % 10**7)
        self._ma_start = int(state[1] % 10**8)
        self._digits_gap = max(1, 9 * 10**7 // (self.n + 1) // 2)
        self._ma_gap = max(1, 7 * 10**8 // (self.n + 1) // 2)
        self._make_inspectors()
        self._restart()

    def _restart(self) -> None:
        """Counts still to hand out and document-number counters, as at the start of a generation."""
        profile = self.profile
        self._remaining_kinds = {k: int(profile.subjects.get(k, 0)) for k in KINDS}
        self._remaining_subjects = self.n
        self._remaining_equipment = {c: int(profile.equipment.get(c, 0)) for c in vocab.CATEGORIES}
        self._remaining_units = profile.user_units
        self._remaining_food = dict(profile.food)
        self._remaining_devices = dict(profile.devices)
        self._counters: dict[str, dict[int, int]] = defaultdict(dict)
        self._serial: dict[str, int] = defaultdict(int)
        self._last_digits = self._digits_start
        self._last_ma = self._ma_start

    # ── set-up ──────────────────────────────────────────────────────────────────────────────────────────
    def _setup_places(self) -> None:
        regions = builtin_regions()
        names = {r["code"]: r["name"] for r in regions}
        counties = self.profile.counties
        county_weights = np.array([c.weight for c in counties], dtype=float)
        county_weights /= county_weights.sum()
        codes: list[str] = []
        county_of: list[int] = []
        weights: list[float] = []
        town: list[bool] = []
        for ci, county in enumerate(counties):
            townships = [r for r in regions if r["parent"] == county.code and r["level"] == "township"]
            if not townships:  # a county without 街镇 in the table: subjects sit at county level
                townships = [{"code": county.code, "name": county.name}]
            raw = []
            for r in townships:
                # Stable, seed-independent spread: 街道 (urban) hold more subjects than 镇; the seat most of all.
                jitter = int(hashlib.sha256(r["code"].encode()).hexdigest()[:8], 16) / 2**32
                base = 1.5 if r["name"].endswith("街道") else 1.0
                raw.append(base * (0.5 + jitter) * (2.5 if r["code"] == "445203001" else 1.0))
                town.append(r["name"].endswith("镇"))
                codes.append(r["code"])
                county_of.append(ci)
            share = np.array(raw) / sum(raw)
            weights.extend((share * county_weights[ci]).tolist())
        self.township_codes = codes
        self._township_index = {c: k for k, c in enumerate(codes)}
        self.township_names = [names.get(c, counties[i].name) for c, i in zip(codes, county_of, strict=True)]
        self.township_short = [n.removesuffix("街道").removesuffix("镇") for n in self.township_names]
        self.township_is_town = np.array(town, dtype=bool)
        self.township_county = np.array(county_of, dtype=np.int64)
        w = np.array(weights, dtype=float)
        self.township_p = w / w.sum()
        # Co-operatives are rural: they sit in 镇 where a county has any.
        wc = w * np.where(self.township_is_town, 1.0, 0.02)
        self.township_p_coop = wc / wc.sum()
        self.county_codes = [c.code for c in counties]
        self.county_ascii = np.array([list(c.code.encode()) for c in counties], dtype=np.uint8)

    def _setup_industries(self) -> None:
        inds = vocab.INDUSTRIES
        self.ind_codes = [i.code for i in inds]
        self.ind_words = [i.words for i in inds]
        urban = self.profile.urban
        p = {
            ENT: np.array([i.ent_urban if urban else i.ent_rural for i in inds], dtype=float),
            IND: np.array([i.individual for i in inds], dtype=float),
            COOP: np.array([i.cooperative for i in inds], dtype=float),
        }
        self.ind_p = {k: v / v.sum() for k, v in p.items()}
        self.ind_complaints = np.array([i.complaints for i in inds], dtype=float)
        families = vocab.PENALTY_FAMILIES
        self.ind_penalty = np.array([families.index(i.penalty) for i in inds], dtype=np.int64)
        units = list(vocab.UNIT_TYPES)
        self.unit_names = units
        self.ind_unit = np.array([units.index(i.unit) for i in inds], dtype=np.int64)
        self.unit_propensity = np.array([vocab.UNIT_TYPES[u].propensity for u in units])
        self.unit_size = np.array([vocab.UNIT_TYPES[u].size for u in units])
        self.unit_affinity = np.array([vocab.UNIT_TYPES[u].affinity for u in units], dtype=float)
        self.ind_is_food_biz = np.array([i.code[:3] in {"H62", "F52", "F51", "C13", "C14", "C15"} for i in inds])

    def _prefix_mask(self, prefixes: tuple[str, ...]) -> np.ndarray:
        return np.array([any(code.startswith(p) for p in prefixes) for code in self.ind_codes], dtype=bool)

    # ── inspectors (执法检查人员名录库) ───────────────────────────────────────────────────────────────────
    def _make_inspectors(self) -> None:
        profile = self.profile
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(2**31,)))
        per_county = apportion({c.code: c.weight for c in profile.counties}, profile.inspectors)
        rows: list[dict[str, Any]] = []
        county_idx: list[int] = []
        certified: list[bool] = []
        unit_word = "科" if profile.urban else "股"
        for ci, county in enumerate(profile.counties):
            count = per_county[county.code]
            if not count:
                continue
            experts = int(round(count * 0.05)) if count >= 4 else 0
            bureau = f"{county.city}{county.name}市场监督管理局"
            twp = np.flatnonzero(self.township_county == ci)
            twp_p = self.township_p[twp] / self.township_p[twp].sum()
            names = self._person_names(rng, count)
            caps = np.array([c for c, _ in vocab.CAPACITIES])[_choice(rng, vocab.CAPACITIES, count)]
            dept_pairs = [(d, s) for d, _, s in vocab.DEPARTMENTS] + [("所", vocab.TOWNSHIP_OFFICE_SHARE)]
            depts = _choice(rng, dept_pairs, count)
            offices = rng.choice(twp, size=count, p=twp_p)
            extra = rng.random((count, len(vocab.EXTRA_QUALIFICATIONS)))
            expert_units = _choice(rng, [(u, w) for u, _, w in vocab.EXPERT_UNITS], count)
            for j in range(count):
                is_expert = j >= count - experts
                if is_expert:
                    unit_name, qual, _ = vocab.EXPERT_UNITS[expert_units[j]]
                    rows.append(
                        {
                            "id": f"ZJ{county.code}{j + 1:04d}",
                            "name": names[j],
                            "unit": unit_name.format(city=county.city),
                            "region": county.code,
                            "certificate_no": None,
                            "qualifications": [qual],
                            "capacity": int(rng.choice([20, 30, 40])),
                        }
                    )
                else:
                    d = int(depts[j])
                    in_office = d == len(vocab.DEPARTMENTS)
                    if in_office:
                        unit = f"{bureau}{self.township_names[offices[j]]}市场监督管理所"
                        region = self.township_codes[offices[j]]
                        core: tuple[str, ...] = ()
                    else:
                        dept, core, _ = vocab.DEPARTMENTS[d]
                        unit = f"{bureau}{dept.format(u=unit_word)}"
                        region = county.code
                    quals = set(core)
                    for q, (name, p_bureau, p_office) in enumerate(vocab.EXTRA_QUALIFICATIONS):
                        if extra[j, q] < (p_office if in_office else p_bureau):
                            quals.add(name)
                    if not quals:
                        quals.add("registration")
                    rows.append(
                        {
                            "id": f"ZF{county.code}{j + 1:04d}",
                            "name": names[j],
                            "unit": unit,
                            "region": region,
                            "certificate_no": f"{county.code}{j + 1:05d}",
                            "qualifications": sorted(quals),
                            "capacity": int(caps[j]),
                        }
                    )
                county_idx.append(ci)
                certified.append(not is_expert)
        for row in rows:
            # Drawn from nothing random, so the rest of the district is what it was before these columns existed.
            row["weekly_capacity"] = weekly_capacity(row["capacity"])
            row["user_name"] = row["id"]  # the account that acts as this inspector (`tasks mine`)
            row["standing_team"] = None
        self.inspector_rows = rows
        self.unit_rows = self._units(rows)
        ids = np.array([r["id"] for r in rows], dtype=object)
        county_arr = np.array(county_idx, dtype=np.int64)
        cert_arr = np.array(certified, dtype=bool)
        n_counties = len(profile.counties)
        # Lookup tables: inspectors (all, or only certified) of each county, as offset + count into a sorted list.
        self._insp_all = self._by_county(ids, county_arr, np.ones(len(ids), dtype=bool), n_counties)
        self._insp_cert = self._by_county(ids, county_arr, cert_arr, n_counties)

    def _units(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The unit table (执法单位): each 市场监督管理所 serves its own township and the county's townships without a
        所 nearest to it in code order (a township group); the bureau's 科/股 and the expert institutes serve the
        whole county (no township restriction). A county whose certified staff all sit in 所 (tiny scaled demos) gets
        no township restriction at all: a 所 of one person could not form a team of two on its own."""
        by_unit: dict[str, str] = {}  # 所 name → its township code
        county_wide: set[str] = set()
        for row in rows:
            if row["region"] in self._township_index:
                by_unit[row["unit"]] = row["region"]
            else:
                county_wide.add(row["unit"])
        bureau_staff = {r["region"] for r in rows if r["certificate_no"] and r["region"] not in self._township_index}
        offices: dict[str, list[tuple[int, str]]] = {}  # county → (township index, 所 name)
        for name, code in by_unit.items():
            offices.setdefault(code[:6], []).append((self._township_index[code], name))
        served: dict[str, list[str]] = {name: [] for name in by_unit}
        for county, stations in offices.items():
            if county not in bureau_staff:
                county_wide.update(name for _, name in stations)
                continue
            stations.sort()
            for t in np.flatnonzero(self.township_county == self.county_codes.index(county)).tolist():
                nearest = min(stations, key=lambda s: (abs(s[0] - t), s[0]))
                served[nearest[1]].append(self.township_codes[t])
        out = [{"name": name, "townships": [], "items": []} for name in sorted(county_wide)]
        out += [
            {"name": n, "townships": sorted(ts), "items": []}
            for n, ts in sorted(served.items())
            if n not in county_wide
        ]
        return sorted(out, key=lambda u: u["name"])

    @staticmethod
    def _by_county(
        ids: np.ndarray, county: np.ndarray, mask: np.ndarray, n: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sel = np.flatnonzero(mask)
        if not len(sel):
            sel = np.arange(len(ids))
        order = sel[np.argsort(county[sel], kind="stable")]
        counts = np.bincount(county[order], minlength=n)
        offsets = np.r_[0, np.cumsum(counts)[:-1]]
        return ids[order], offsets, counts

    def _inspector_for(self, rng: np.random.Generator, county: np.ndarray, certified_only: bool) -> list[str]:
        ids, offsets, counts = self._insp_cert if certified_only else self._insp_all
        u = rng.random(len(county))
        c = counts[county]
        # A county without inspectors of its own (tiny scaled demos) borrows from the whole roster.
        idx = np.where(
            c > 0,
            offsets[county] + np.floor(u * np.maximum(c, 1)).astype(np.int64),
            np.floor(u * len(ids)).astype(np.int64),
        )
        return ids[idx].tolist()

    def _person_names(self, rng: np.random.Generator, n: int) -> list[str]:
        surnames = np.array([s for s, _ in vocab.SURNAMES], dtype=object)[_choice(rng, vocab.SURNAMES, n)]
        chars = vocab.GIVEN_CHARS
        a = rng.integers(0, len(chars), n)
        b = rng.integers(0, len(chars), n)
        two = rng.random(n) < 0.65
        return [
            s + chars[x] + (chars[y] if t else "")
            for s, x, y, t in zip(surnames, a.tolist(), b.tolist(), two.tolist(), strict=True)
        ]

    # ── batches ─────────────────────────────────────────────────────────────────────────────────────────
    def batches(self) -> Iterator[dict[str, list[dict[str, Any]]]]:
        """Inspectors first, then one dict of table -> rows per batch of subjects (each call starts afresh)."""
        self._restart()
        yield {"org_unit": list(self.unit_rows), "inspector": list(self.inspector_rows)}
        start = 0
        b = 0
        while start < self.n:
            end = min(self.n, start + self.batch_size)
            yield self._batch(b, start, end)
            start = end
            b += 1

    def expected_rows(self) -> dict[str, int]:
        """About how many rows each table gets (exact for subjects, equipment, food and device businesses)."""
        p = self.profile
        n = self.n
        kinds = p.subjects
        abnormal = sum(p.abnormal_5y.get(k, 0) * kinds.get(k, 0) for k in KINDS)
        food = sum(p.food.values())
        devices = sum(p.devices.values())
        checks = 3 * (
            0.05 * kinds.get("enterprise", 0) + 0.015 * kinds.get("individual", 0) + 0.03 * kinds.get("cooperative", 0)
        )
        checks += 3 * 1.05 * food + 3 * 0.22 * p.user_units + 3 * 0.4 * devices + abnormal
        checks += 0.1 * 2 * p.complaints_per_subject_year * n
        return {
            "org_unit": len(self.unit_rows),
            "inspector": len(self.inspector_rows),
            "subject": n,
            "licence": p.total_equipment + food + devices // 5,
            "list_entry": round(abnormal * 1.02),
            "penalty": round(5 * p.penalties_per_subject_year * n),
            "complaint": round(2 * p.complaints_per_subject_year * n),
            "check_result": round(checks),
            "equipment": p.total_equipment,
            "accident": round(0.0015 * p.total_equipment),
            "food_business": food,
            "device_business": devices,
            "conflict": round(p.conflicts_per_inspector * len(self.inspector_rows)),
            "annual_report": round(2.7 * n),
        }

    def _take(self, remaining: dict[str, int], n: int, total_left: int) -> dict[str, int]:
        """This batch's share of each remaining count (exact over the whole run, never negative)."""
        if total_left <= 0:
            return dict.fromkeys(remaining, 0)
        want = sum(remaining.values()) * n / total_left
        taken = apportion(remaining, round(want)) if any(remaining.values()) else dict.fromkeys(remaining, 0)
        for k, v in taken.items():
            taken[k] = min(v, remaining[k])
            remaining[k] -= taken[k]
        return taken

    def _batch(self, b: int, start: int, end: int) -> dict[str, list[dict[str, Any]]]:
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(b,)))
        n = end - start
        left = self._remaining_subjects
        kind_counts = self._take(self._remaining_kinds, n, left)
        equipment_counts = self._take(self._remaining_equipment, n, left)
        units = self._take({"u": self._remaining_units}, n, left)["u"]
        self._remaining_units -= units
        food_counts = self._take(self._remaining_food, n, left)
        device_counts = self._take(self._remaining_devices, n, left)
        self._remaining_subjects -= n

        s = self._subjects(rng, start, n, kind_counts)
        out: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES if t != "inspector"}
        checks = _Rows()
        self._list_entries(rng, s, out, checks)
        self._penalties(rng, s, out)
        out["subject"] = s.rows()  # after lists and penalties, which take subjects off the 白名单
        food_mask = self._food(rng, s, food_counts, out)
        device_mask = self._devices(rng, s, device_counts, out)
        unit_mask = self._equipment(rng, s, equipment_counts, units, out)
        # After the businesses: what a complaint concerns follows what the subject does.
        self._complaints(rng, s, out, checks, food_mask, unit_mask)
        self._checks(rng, s, food_mask, device_mask, unit_mask, checks)
        self._industrial_licences(rng, s, out)
        self._annual_reports(rng, s, out)
        # Check levels come from a stream of their own, so adding them left every other table of the demo as it was.
        levels = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(b, _LEVEL_STREAM)))
        out["check_result"] = checks.finish(self, rng, s, levels)
        self._conflicts(rng, s, out)
        return out

    # ── subjects ────────────────────────────────────────────────────────────────────────────────────────
    def _subjects(self, rng: np.random.Generator, start: int, n: int, kind_counts: Mapping[str, int]) -> _Subjects:
        kinds = np.repeat(np.arange(3), [kind_counts[k] for k in KINDS])
        rng.shuffle(kinds)
        z = rng.standard_normal(n)
        twp = rng.choice(len(self.township_codes), size=n, p=self.township_p)
        coop = np.flatnonzero(kinds == COOP)
        if len(coop):
            twp[coop] = rng.choice(len(self.township_codes), size=len(coop), p=self.township_p_coop)
        ind = np.empty(n, dtype=np.int64)
        for k in (ENT, IND, COOP):
            idx = np.flatnonzero(kinds == k)
            if len(idx):
                ind[idx] = rng.choice(len(self.ind_codes), size=len(idx), p=self.ind_p[k])

        # Registration age: the seeds' share registered in the last five years, older ones spread further back.
        recent_share = np.array([self.profile.recent_share[k] for k in KINDS])[kinds]
        recent = rng.random(n) < recent_share
        u = rng.random(n)
        age = np.where(recent, 1826 * u**1.3, 0.0)
        mean_old = np.array([_OLD_AGE[k][0] for k in (ENT, IND, COOP)])[kinds] * YEAR
        max_old = np.array([_OLD_AGE[k][1] for k in (ENT, IND, COOP)])[kinds] * YEAR
        old = np.minimum(1826 + rng.exponential(1.0, n) * mean_old, max_old)
        age = np.where(recent, age, old)
        age = np.maximum(np.floor(age), 1).astype(np.int64)
        registered = self.today - age

        # Status: 注销 etc. only for subjects old enough; 吊销 follows long inactivity (three years or more).
        status = np.zeros(n, dtype=np.int64)
        su = rng.random(n)
        cum = np.zeros(n)
        for s_i in range(4):
            p = np.array([_STATUS_P[k][s_i] for k in (ENT, IND, COOP)])[kinds]
            hit = (su >= cum) & (su < cum + p)
            status[hit] = s_i + 1
            cum += p
        status[(status > 0) & (age < 365)] = 0
        status[(status == 2) & (age < 3 * 365)] = 1

        county = self.township_county[twp]
        uscc = self._uscc(rng, kinds, county, registered)

        # 白名单 and 包容审慎 (guangzhou's shares of enterprises): the former for settled, clean enterprises,
        # the latter for young ones in new formats (software, platforms, technology services, online retail).
        ent = kinds == ENT
        active = status == 0
        sec = np.array([c[0] for c in self.ind_codes])[ind]
        settled = ent & active & (age > 3 * 365) & (z < 0.5)
        white_p = self.profile.whitelist_share * max(ent.sum(), 1) / max(settled.sum(), 1)
        whitelist = settled & (rng.random(n) < white_p)
        new_format = np.isin(sec, ["I", "M", "L"]) | np.isin(np.array(self.ind_codes)[ind], ["F5292"])
        young = ent & active & (age < 5 * 365) & new_format & ~whitelist
        lenient_p = self.profile.lenient_share * max(ent.sum(), 1) / max(young.sum(), 1)
        lenient = young & (rng.random(n) < lenient_p)

        return _Subjects(
            gen=self,
            rng=rng,
            n=n,
            kind=kinds,
            z=z,
            risk=np.exp(0.9 * z - 0.405),
            township=twp,
            county=county,
            industry=ind,
            age=age,
            registered=registered,
            status=status,
            uscc=uscc,
            whitelist=whitelist,
            lenient=lenient,
        )

    def _uscc(
        self, rng: np.random.Generator, kinds: np.ndarray, county: np.ndarray, registered: np.ndarray
    ) -> np.ndarray:
        """Valid, unique USCCs: 9 + kind digit, the county code, a GB 11714 organisation code, the check character."""
        n = len(kinds)
        codes = np.zeros((n, 18), dtype=np.uint8)
        codes[:, 0] = ord("9")
        codes[:, 1] = np.array([ord("1"), ord("2"), ord("3")], dtype=np.uint8)[kinds]
        codes[:, 2:8] = self.county_ascii[county]
        # Before 2015-10 an enterprise had an all-digit organisation code that it kept; later ones got MA…
        old = (registered < USCC_START) & (kinds != IND)
        digits = np.zeros(n, dtype=np.int64)
        ma = np.zeros(n, dtype=np.int64)
        n_old = int(old.sum())
        digits[old] = self._last_digits + np.cumsum(rng.integers(1, 2 * self._digits_gap, n_old, endpoint=False))
        ma[~old] = self._last_ma + np.cumsum(rng.integers(1, 2 * self._ma_gap, n - n_old, endpoint=False))
        if n_old:
            self._last_digits = int(digits[old][-1])
        if n - n_old:
            self._last_ma = int(ma[~old][-1])
        body = np.zeros((n, 8), dtype=np.uint8)
        for pos in range(7, -1, -1):
            body[:, pos] = ord("0") + digits % 10
            digits //= 10
        ma_body = np.zeros((n, 8), dtype=np.uint8)
        ma_body[:, 0] = ord("M")
        ma_body[:, 1] = ord("A")
        for pos in range(7, 1, -1):
            ma_body[:, pos] = _ALPHABET_ASCII[ma % 31]
            ma //= 31
        body = np.where(old[:, None], body, ma_body)
        # GB 11714 check: letters count 10 (A) .. 35 (Z); 10 → X, 11 → 0.
        values = np.where(body >= ord("A"), body.astype(np.int64) - 55, body.astype(np.int64) - 48)
        check = 11 - (values @ _ORG_WEIGHTS) % 11
        check_char = np.where(check == 10, ord("X"), np.where(check == 11, ord("0"), ord("0") + check))
        codes[:, 8:16] = body
        codes[:, 16] = check_char
        total = _ASCII_VALUE[codes[:, :17]] @ _USCC_WEIGHTS
        codes[:, 17] = _ALPHABET_ASCII[(31 - total % 31) % 31]
        return np.array(_ascii_strings(codes), dtype=object)

    def serial(self, name: str, count: int) -> np.ndarray:
        """The next `count` numbers of a counter that runs across batches (for unique document numbers)."""
        first = self._serial[name]
        self._serial[name] = first + count
        return np.arange(first + 1, first + count + 1, dtype=np.int64)

    # ── list entries (经营异常名录, 严重违法失信名单) ─────────────────────────────────────────────────────
    def _list_entries(
        self, rng: np.random.Generator, s: _Subjects, out: dict[str, list[dict[str, Any]]], checks: _Rows
    ) -> None:
        # Seed 003 counts entries per kind over five years; a subject's chance grows with its exposure (days
        # registered in the window, after a first half-year) and its latent risk, scaled so the totals hold.
        lo = np.maximum(s.registered + 180, self.today - 1826)
        eligible = lo < self.today
        exposure = np.where(eligible, (self.today - lo) * s.risk, 0.0)
        p = np.zeros(s.n)
        for k in (ENT, IND, COOP):
            sel = s.kind == k
            mass = float(exposure[sel].sum())
            if mass > 0:
                p[sel] = self.profile.abnormal_5y.get(KINDS[k], 0.0) * sel.sum() * exposure[sel] / mass
        p = np.minimum(0.9, p)
        listed = eligible & ((rng.random(s.n) < p) | (s.status == 2))
        idx = np.flatnonzero(listed)
        if not len(idx):
            return
        span = self.today - lo[idx]
        listed_on = lo[idx] + np.floor(rng.random(len(idx)) * span).astype(np.int64)
        # 吊销 subjects were listed long ago and never fixed anything.
        revoked = s.status[idx] == 2
        listed_on = np.where(revoked, lo[idx], listed_on)
        kinds = s.kind[idx]
        reason = np.empty(len(idx), dtype=np.int64)
        for k in (ENT, IND, COOP):
            sel = np.flatnonzero(kinds == k)
            if len(sel):
                mix = vocab.ABNORMAL_REASON_MIX[KINDS[k]]
                reason[sel] = rng.choice(3, size=len(sel), p=np.array(mix) / sum(mix))
        removed_p = np.array([self.profile.abnormal_removed.get(k, 0.0) for k in KINDS])[kinds]
        removed_on = listed_on + rng.integers(30, 365, len(idx))
        removed = (rng.random(len(idx)) < removed_p) & (removed_on <= self.today) & ~revoked
        s.whitelist[idx] = False
        s.unpublished[idx] = (reason == 1) & ~removed
        uscc = s.uscc[idx].tolist()
        listed_dates = to_dates(listed_on)
        removed_dates = to_dates(removed_on)
        rows = out["list_entry"]
        for j in range(len(idx)):
            rows.append(
                {
                    "uscc": uscc[j],
                    "list_name": "abnormal",
                    "listed_on": listed_dates[j],
                    "removed_on": removed_dates[j] if removed[j] else None,
                    "reason": vocab.ABNORMAL_REASONS[reason[j]][0],
                }
            )
        # The inspection that found it (seed 003: these listings came out of checks).
        check_day = np.maximum(listed_on - rng.integers(10, 60, len(idx)), s.registered[idx])
        checks.add(
            idx,
            check_day,
            [vocab.ABNORMAL_REASONS[r][1] for r in reason.tolist()],
            kind="random",
            items=np.where(kinds == IND, "DJ-GT-01", "DJ-GS-01"),
        )
        # Three years on the list unfixed moves an enterprise to the 严重违法失信名单 (企业信息公示暂行条例 第17条).
        serious_on = add_years(listed_on, np.full(len(idx), 3)) + rng.integers(1, 30, len(idx))
        serious = (kinds != IND) & ~removed & (serious_on <= self.today) & (rng.random(len(idx)) < 0.4)
        for j in np.flatnonzero(serious).tolist():
            rows.append(
                {
                    "uscc": uscc[j],
                    "list_name": "serious_violation",
                    "listed_on": to_dates(serious_on[j : j + 1])[0],
                    "removed_on": None,
                    "reason": vocab.SERIOUS_REASON,
                }
            )

    # ── penalties ───────────────────────────────────────────────────────────────────────────────────────
    def _penalties(self, rng: np.random.Generator, s: _Subjects, out: dict[str, list[dict[str, Any]]]) -> None:
        kind_factor = np.array([1.6, 0.85, 0.5])[s.kind]
        norm = float(np.mean(kind_factor * s.risk)) or 1.0
        lam = self.profile.penalties_per_subject_year * 5 * kind_factor * s.risk / norm
        counts = rng.poisson(lam)
        idx = np.repeat(np.arange(s.n), counts)
        if not len(idx):
            return
        s.whitelist[idx] = False
        m = len(idx)
        lo = np.maximum(s.registered[idx], self.today - 1826)
        day = lo + np.floor(rng.random(m) * (self.today - lo + 1)).astype(np.int64)
        severity = _choice(rng, vocab.SEVERITIES, m)
        family = self.ind_penalty[s.industry[idx]]
        basis_u = rng.random(m)
        median = 5000.0 if self.profile.urban else 3000.0
        scale = np.array([0.0, 1.0, 0.7, 6.0, 3.0])[severity]
        amount = np.round(median * scale * rng.lognormal(0.0, 0.9, m), -2)
        amount = np.where(
            (severity == 0) | ((severity == 4) & (rng.random(m) < 0.5)), np.nan, np.maximum(amount, 100.0)
        )
        year = _year(day)
        county = s.county[idx]
        seq = _seq_in_groups(county * 10_000 + year, self._counters["penalty"])
        dates = to_dates(day)
        uscc = s.uscc[idx].tolist()
        prefixes = [c.doc_prefix for c in self.profile.counties]
        rows = out["penalty"]
        for j in range(m):
            bases = vocab.LEGAL_BASES[vocab.PENALTY_FAMILIES[family[j]]]
            acc = 0.0
            basis = bases[-1][0]
            for text, w in bases:
                acc += w
                if basis_u[j] < acc:
                    basis = text
                    break
            a = amount[j]
            rows.append(
                {
                    "decision_no": f"{prefixes[county[j]]}市监罚〔{year[j]}〕{seq[j]}号",
                    "uscc": uscc[j],
                    "decided_on": dates[j],
                    "severity": vocab.SEVERITIES[severity[j]][0],
                    "legal_basis": basis,
                    "amount": None if np.isnan(a) else float(a),
                }
            )

    # ── complaints (12315) ──────────────────────────────────────────────────────────────────────────────
    def _complaints(
        self,
        rng: np.random.Generator,
        s: _Subjects,
        out: dict[str, list[dict[str, Any]]],
        checks: _Rows,
        food: np.ndarray,
        unit: np.ndarray,
    ) -> None:
        # Concentrated on few subjects: a gamma-mixed Poisson (most get none, a few get many), more for
        # catering, property management, training and other consumer-facing trades.
        propensity = self.ind_complaints[s.industry] * s.risk * np.where(s.kind == COOP, 0.2, 1.0)
        norm = float(np.mean(propensity)) or 1.0
        shape = 0.12
        w = rng.gamma(shape, 1.0 / shape, s.n)
        lam = self.profile.complaints_per_subject_year * 2 * w * propensity / norm
        counts = rng.poisson(lam)
        idx = np.repeat(np.arange(s.n), counts)
        if not len(idx):
            return
        m = len(idx)
        window = np.minimum(730, s.age[idx])
        day = self.today - np.floor(rng.random(m) * window).astype(np.int64)
        verified = rng.random(m) < np.where(s.risk[idx] > 1.0, 0.41, 0.25)
        # What it concerns (assumed mix): a food business's complaints are mostly about food; a special-equipment
        # user's are about its lifts and other equipment only now and then (a trapped-in-lift call); the rest
        # are consumer disputes and product quality.
        u = rng.random(m)
        is_food, is_unit = food[idx], unit[idx]
        domain = np.where(
            is_food & (u < 0.6),
            "food",
            np.where(
                is_unit & (u > 0.88),
                "special_equipment",
                np.where(u < 0.75, "consumer", np.where(u < 0.9, "product_quality", "other")),
            ),
        )
        domain = np.where(
            np.isin(domain, ["consumer", "product_quality", "other"]) & is_food & (u < 0.7), "food", domain
        )
        domains = domain.tolist()
        serial = self.serial("complaint", m)
        dates = to_dates(day)
        uscc = s.uscc[idx].tolist()
        rows = out["complaint"]
        stamps = np.char.replace(day.astype("datetime64[D]").astype("U10"), "-", "").tolist()
        for j in range(m):
            rows.append(
                {
                    "ticket_no": f"TS{stamps[j]}{serial[j]:08d}",
                    "uscc": uscc[j],
                    "received_on": dates[j],
                    "verified": bool(verified[j]),
                    "domain": domains[j],
                }
            )
        # About one complaint in ten is followed up by an on-site check (投诉举报核查).
        follow = np.flatnonzero(rng.random(m) < 0.1)
        if len(follow):
            check_day = np.minimum(day[follow] + rng.integers(1, 15, len(follow)), self.today)
            codes = np.where(
                verified[follow],
                np.where(rng.random(len(follow)) < 0.7, "fixed_after_order", "other_violation"),
                "no_problem",
            )
            item = np.where(
                domain[follow] == "food",
                s.food_item[idx[follow]],
                np.where(domain[follow] == "special_equipment", "TS-SY-01", np.full(len(follow), None, dtype=object)),
            )
            checks.add(idx[follow], check_day, codes.tolist(), kind="lead", items=item)

    # ── food businesses ─────────────────────────────────────────────────────────────────────────────────
    def _select(
        self,
        rng: np.random.Generator,
        s: _Subjects,
        pools: Sequence[tuple[tuple[str, ...], tuple[int, ...]]],
        k: int,
        used: np.ndarray,
    ) -> np.ndarray:
        """k active subjects from the first pool that has them, then the next; reuse subjects only if all run out."""
        chosen: list[np.ndarray] = []
        need = k
        base = (s.status == 0) & ~used
        for prefixes, kinds in pools:
            if need <= 0:
                break
            mask = base & self._prefix_mask(prefixes)[s.industry] & np.isin(s.kind, kinds)
            got = _pick(rng, np.flatnonzero(mask), need)
            used[got] = True
            base &= ~used
            chosen.append(got)
            need -= len(got)
        if need > 0:
            got = _pick(rng, np.flatnonzero(base), need)
            used[got] = True
            chosen.append(got)
            need -= len(got)
        if need > 0:  # tiny batches: a subject may hold several licences
            chosen.append(np.sort(rng.integers(0, s.n, need)))
        return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)

    def _licence_dates(self, rng: np.random.Generator, registered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Five-year licences issued or renewed in the last five years; about 3 % lapsed without renewal."""
        m = len(registered)
        start = self.today - np.floor(rng.random(m) * 1826).astype(np.int64)
        lapsed = rng.random(m) < 0.03
        start = np.where(lapsed, self.today - 1826 - rng.integers(1, 365, m), start)
        start = np.maximum(start, registered)
        end = add_years(start, np.full(m, 5)) - 1
        return start, end

    def _food(
        self,
        rng: np.random.Generator,
        s: _Subjects,
        counts: Mapping[str, int],
        out: dict[str, list[dict[str, Any]]],
    ) -> np.ndarray:
        used = np.zeros(s.n, dtype=bool)
        holders = np.zeros(s.n, dtype=bool)
        fmt_rows: list[tuple[str, np.ndarray]] = []
        for fmt, k in counts.items():
            if k:
                fmt_rows.append((fmt, self._select(rng, s, FOOD[fmt].pools, k, used)))
        for fmt, idx in fmt_rows:
            spec = FOOD[fmt]
            m = len(idx)
            holders[idx] = True
            s.food_item[idx] = _FOOD_ITEM[spec.food_kind]
            kinds = s.kind[idx]
            scale_u = rng.random(m)
            big = fmt in {"supermarket", "central_kitchen", "group_catering", "school_canteen", "wholesale"}
            scale = np.where(
                kinds == IND,
                0,
                np.where(scale_u < (0.45 if big else 0.7), 0, np.where(scale_u < (0.85 if big else 0.93), 1, 2)),
            )
            static = np.clip(spec.static + 2.5 * scale + rng.normal(0, 3.0, m), 0, 40)
            dynamic = np.clip(spec.dynamic + 9.0 * s.z[idx] + rng.normal(0, 5.0, m), 0, 60)
            start, end = self._licence_dates(rng, s.registered[idx])
            numbers = self._food_numbers(rng, fmt, s.county[idx])
            uscc = s.uscc[idx].tolist()
            d_start, d_end = to_dates(start), to_dates(end)
            scale_names = ("small", "medium", "large")
            for j in range(m):
                out["food_business"].append(
                    {
                        "licence_no": numbers[j],
                        "uscc": uscc[j],
                        "licence_kind": spec.food_kind,
                        "format": fmt,
                        "scale": scale_names[scale[j]],
                        "static_score": round(float(static[j]), 1),
                        "dynamic_score": round(float(dynamic[j]), 1),
                    }
                )
                out["licence"].append(
                    {
                        "number": numbers[j],
                        "uscc": uscc[j],
                        "kind": spec.licence_kind,
                        "valid_from": d_start[j],
                        "valid_to": d_end[j],
                    }
                )
        return holders

    def _food_numbers(self, rng: np.random.Generator, fmt: str, county: np.ndarray) -> list[str]:
        spec = FOOD[fmt]
        m = len(county)
        codes = self.county_codes
        if fmt == "small_workshop":
            # 食品小作坊 hold a county registration certificate (登记证), not an SC licence.
            seq = _seq_in_groups(county, self._counters["workshop"])
            return [f"{codes[c]}XZF{q:05d}" for c, q in zip(county.tolist(), seq.tolist(), strict=True)]
        if spec.jy_digit:
            seq = _seq_in_groups(county, self._counters["JY"])
            numbers = [f"{spec.jy_digit}{codes[c]}{q:06d}" for c, q in zip(county.tolist(), seq.tolist(), strict=True)]
            return [f"JY{x}{sum(map(int, x)) % 10}" for x in numbers]
        seq = _seq_in_groups(county, self._counters["SC"])
        cats = rng.integers(0, len(_FOOD_SC_CATEGORIES), m).tolist()
        numbers = [
            f"{'131' if fmt == 'special_food' else _FOOD_SC_CATEGORIES[t]}{codes[c]}{q:04d}"
            for c, q, t in zip(county.tolist(), seq.tolist(), cats, strict=True)
        ]
        return [f"SC{x}{sum(map(int, x)) % 10}" for x in numbers]

    # ── medical-device businesses ───────────────────────────────────────────────────────────────────────
    def _devices(
        self,
        rng: np.random.Generator,
        s: _Subjects,
        counts: Mapping[str, int],
        out: dict[str, list[dict[str, Any]]],
    ) -> np.ndarray:
        used = np.zeros(s.n, dtype=bool)
        holders = np.zeros(s.n, dtype=bool)
        city = [c.doc_prefix[0] for c in self.profile.counties]
        for key, k in counts.items():
            if not k:
                continue
            activity, cls = key.split(":")
            idx = self._select(rng, s, _DEVICE_POOLS[activity], k, used)
            holders[idx] = True
            s.device_item[idx] = "YL-SC-01" if activity == "production" else "YL-JY-01"
            m = len(idx)
            start, end = self._licence_dates(rng, s.registered[idx])
            years = [d.year for d in to_dates(start)]
            # Class III trade and class II/III production need a licence; class II trade and class I
            # production are filed (备案) and have no licence row.
            licensed = (activity == "trade" and cls == "III") or (activity == "production" and cls != "I")
            word = ("经营" if activity == "trade" else "生产") + ("许" if licensed else "备")
            seq = _seq_in_groups(
                np.array(years, dtype=np.int64) * 10 + (1 if licensed else 0),
                self._counters[f"md-{activity}"],
            )
            county = s.county[idx].tolist()
            key_p = _KEY_CATALOGUE.get(key, 0.0)
            key_flag = rng.random(m) < key_p
            uscc = s.uscc[idx].tolist()
            d_start, d_end = to_dates(start), to_dates(end)
            for j in range(m):
                # Production licences are issued by the province, trade licences and filings by the city.
                issuer = "粤" if activity == "production" and licensed else f"粤{city[county[j]]}"
                number = f"{issuer}药监械{word}{years[j]}{seq[j]:04d}号"
                out["device_business"].append(
                    {
                        "licence_no": number,
                        "uscc": uscc[j],
                        "activity": activity,
                        "product_class": cls,
                        "key_catalogue": bool(key_flag[j]),
                    }
                )
                if licensed:
                    out["licence"].append(
                        {
                            "number": number,
                            "uscc": uscc[j],
                            "kind": f"medical_device_{activity}",
                            "valid_from": d_start[j],
                            "valid_to": d_end[j],
                        }
                    )
        return holders

    # ── special equipment ───────────────────────────────────────────────────────────────────────────────
    def _equipment(
        self,
        rng: np.random.Generator,
        s: _Subjects,
        counts: Mapping[str, int],
        units: int,
        out: dict[str, list[dict[str, Any]]],
    ) -> np.ndarray:
        holders = np.zeros(s.n, dtype=bool)
        total = sum(counts.values())
        if not total:
            return holders
        units = min(max(units, 1), total)
        ut = self.ind_unit[s.industry]
        weight = (
            self.unit_propensity[ut]
            * np.array([1.0, 0.15, 0.05])[s.kind]
            * (1 + np.minimum(s.age, 20 * 365) / (10 * 365))
        )
        active = np.flatnonzero(s.status == 0)
        chosen = _pick(rng, active, units, weight[active])
        if len(chosen) < units:
            rest = np.setdiff1d(np.arange(s.n), chosen)
            chosen = np.sort(np.r_[chosen, _pick(rng, rest, units - len(chosen))])
        holders[chosen] = True
        # Devices per unit: one each, the rest spread by size (a property company runs many lifts).
        size = self.unit_size[ut[chosen]] * rng.lognormal(0.0, 0.8, len(chosen))
        per_unit = 1 + rng.multinomial(total - len(chosen), size / size.sum())
        unit_of = np.repeat(chosen, per_unit)
        n_dev = len(unit_of)
        # Exact category counts; each device slot goes to the category its unit most plausibly has.
        category = np.full(n_dev, -1, dtype=np.int64)
        free = np.ones(n_dev, dtype=bool)
        affinity = self.unit_affinity[ut[unit_of]] + 1e-6
        for c in sorted(range(len(vocab.CATEGORIES)), key=lambda c: (counts.get(vocab.CATEGORIES[c], 0), c)):
            q = counts.get(vocab.CATEGORIES[c], 0)
            if not q:
                continue
            slots = np.flatnonzero(free)
            got = _pick(rng, slots, q, affinity[slots, c])
            category[got] = c
            free[got] = False
        # Where each unit's devices stand.
        unit_types = ut[chosen]
        unit_loc = np.empty(len(chosen), dtype=object)
        for t in np.unique(unit_types).tolist():
            sel = np.flatnonzero(unit_types == t)
            locs = vocab.UNIT_TYPES[self.unit_names[t]].locations
            unit_loc[sel] = np.array([name for name, _ in locs], dtype=object)[_choice(rng, locs, len(sel))]
        pos = np.searchsorted(chosen, unit_of)
        location = unit_loc[pos]
        self._equipment_rows(rng, s, unit_of, category, location, out)
        return holders

    def _equipment_rows(
        self,
        rng: np.random.Generator,
        s: _Subjects,
        unit_of: np.ndarray,
        category: np.ndarray,
        location: np.ndarray,
        out: dict[str, list[dict[str, Any]]],
    ) -> None:
        n_dev = len(unit_of)
        cats = vocab.CATEGORIES
        variety_code = np.empty(n_dev, dtype=object)
        variety_name = np.empty(n_dev, dtype=object)
        interval = np.ones(n_dev, dtype=np.int64)
        design = np.full(n_dev, -1, dtype=np.int64)
        mean_age = np.zeros(n_dev)
        max_age = np.zeros(n_dev)
        for c, name in enumerate(cats):
            idx = np.flatnonzero(category == c)
            if not len(idx):
                continue
            varieties = vocab.VARIETIES[name]
            pick = _choice(rng, [(v, v[2]) for v in varieties], len(idx))
            variety_code[idx] = np.array([v[0] for v in varieties], dtype=object)[pick]
            variety_name[idx] = np.array([v[1] for v in varieties], dtype=object)[pick]
            interval[idx] = np.maximum(np.array([v[3] for v in varieties])[pick], 1)
            lives = vocab.DESIGN_LIFE[name]
            design[idx] = np.array([-1 if y is None else y for y, _ in lives])[_choice(rng, lives, len(idx))]
            mean_age[idx], max_age[idx] = vocab.AGE[name]
        # Age: mostly young (the register grew fast), never older than the category allows. A device may be
        # older than its user unit: lifts pass to a new property company, plant to a new owner (变更登记).
        age_years = np.minimum(rng.exponential(1.0, n_dev) * mean_age, max_age)
        age = np.maximum(np.floor(age_years * YEAR), 30).astype(np.int64)
        installed = self.today - age

        # 安全状况等级 only for pressure vessels and piping (TSG 21 / TSG D7005); the interval follows it.
        graded = np.isin(category, [cats.index("pressure_vessel"), cats.index("pressure_piping")])
        grade = np.where(graded, 1 + _choice(rng, [(1, 0.30), (2, 0.55), (3, 0.12), (4, 0.025), (5, 0.005)], n_dev), 0)
        first = interval.copy()
        interval = np.where(graded, np.select([grade <= 2, grade == 3, grade >= 4], [6, 3, 1]), interval)
        first = np.where(graded, 3, first)
        elevator = category == cats.index("elevator")
        y = _years_between(installed, self.today)
        last_s, next_s = _schedule(y, elevator, first, interval)
        due = add_years(installed, next_s)

        # Overdue (超期未检): a few per cent, more at small and individual users, less in public places.
        unit_kind = s.kind[unit_of]
        public = np.isin(location, sorted(PUBLIC_GATHERING))
        f = (1 + (unit_kind == IND)) * np.where(public, 0.5, 1.0) * np.sqrt(s.risk[unit_of])
        f = f * np.where((design > 0) & (age > design * YEAR), 1.5, 1.0)
        # Status (使用登记状态): a few units are 停用 or 报废 awaiting 注销; a vessel at 安全状况等级 5 or piping at 4
        # (判废) is mostly taken out of use, but not always (令57号 第25条 serious hazards; assumed shares).
        condemned = (graded & (category == cats.index("pressure_vessel")) & (grade == 5)) | (
            graded & (category == cats.index("pressure_piping")) & (grade >= 4)
        )
        su = rng.random(n_dev)
        status = np.where(condemned, np.where(su < 0.7, 1, 0), np.where(su < 0.03, 1, np.where(su < 0.04, 2, 0)))
        in_use = status == 0
        eligible = (last_s >= 1) & in_use
        mass = float((f * eligible).sum()) or 1.0
        p_over = np.minimum(0.9, self.profile.overdue_share * n_dev * f / mass) * eligible
        overdue = rng.random(n_dev) < p_over
        window = np.where(elevator, 60, 30)  # elevators may be inspected up to two months early
        ahead = due - self.today
        early = ~overdue & (ahead <= window) & (rng.random(n_dev) < 0.5)
        inspected_s = np.where(overdue, _previous(last_s, elevator, first, interval), np.where(early, next_s, last_s))
        next_due_s = np.where(overdue, last_s, np.where(early, _following(next_s, elevator, first, interval), next_s))
        anniversary = add_years(installed, inspected_s)
        # An early inspection happened between the window's start and today; others up to `window` days early.
        ahead = np.maximum(ahead, 0)
        lead = np.where(early, ahead + rng.integers(0, np.maximum(window - ahead, 0) + 1), rng.integers(0, window + 1))
        inspected = np.maximum(anniversary - lead, installed + 1)
        inspected = np.minimum(inspected, self.today)
        has_inspection = inspected_s >= 1
        generic = ~elevator
        # A routine inspection sets the next date `interval` years on; keep it after today for units not overdue.
        floor = add_years(np.full(n_dev, self.today + 1), -interval)
        inspected = np.where(generic & has_inspection & ~overdue, np.maximum(inspected, floor), inspected)
        inspected = np.minimum(np.maximum(inspected, installed + 1), self.today)
        # Overdue units are late by days to months, rarely years (assumed: 60 % within 30 days, 25 % up to half a
        # year, 15 % up to 2½ years), so the pack's 30-day threshold separates them.
        lu = rng.random(n_dev)
        late = np.where(
            lu < 0.6,
            rng.integers(1, 31, n_dev),
            np.where(lu < 0.85, rng.integers(31, 181, n_dev), rng.integers(181, 900, n_dev)),
        )
        due_day = self.today - late
        # Elevators: the missed inspection is the anniversary `last_s` of installation (TSG T7001-2023 schedule).
        e_over = overdue & elevator
        e_installed = add_years(due_day, -last_s)
        e_prev = _E_PREV[np.minimum(last_s, 399)]
        installed = np.where(e_over, e_installed, installed)
        e_inspected = add_years(installed, e_prev) - rng.integers(0, 31, n_dev)
        # Other categories: the last inspection was `interval` years before the missed date (none yet: the first).
        g_over = overdue & generic
        g_last = add_years(due_day, -interval)
        g_first = g_last <= installed
        installed = np.where(g_over & g_first, add_years(due_day, -first), installed)
        inspected = np.where(e_over, e_inspected, np.where(g_over, g_last, inspected))
        has_inspection = np.where(e_over, e_prev >= 1, np.where(g_over, ~g_first, has_inspection))
        inspected = np.maximum(inspected, installed + 1)
        age = self.today - installed
        # The register records the date the last report set; the features compute their own from the last
        # inspection (engine/features/intervals.py) and honour the recorded one only where the inspection body
        # sets it (a vessel in 监控使用, 安全状况等级 4). Stopped, scrapped and condemned units have none.
        next_due = np.where(
            overdue,
            due_day,
            np.where(
                elevator,
                add_years(installed, next_due_s),
                np.where(has_inspection, add_years(inspected, interval), add_years(installed, first)),
            ),
        )
        recorded = (status == 0) & ~condemned

        conclusion = _choice(
            rng, [("pass", 0.93), ("conditional", 0.04), ("retest_pass", 0.025), ("fail", 0.005)], n_dev
        )
        conclusion = np.where(grade == 5, 3, conclusion)
        # A unit that failed is mostly stopped until repaired and re-inspected; a few stay in use (第25条（二）).
        status = np.where(has_inspection & (conclusion == 3) & (status == 0) & (rng.random(n_dev) < 0.6), 1, status)
        failed = has_inspection & (conclusion == 3) & (status == 0)
        recorded = recorded & (status == 0)
        p_danger = np.minimum(0.9, 0.03 * s.risk[unit_of] + 0.3 * overdue + 1.0 * failed)
        dangers = np.where(rng.random(n_dev) < p_danger, 1 + rng.poisson(0.5, n_dev), 0)
        serious = np.minimum(dangers, rng.binomial(dangers, 0.15) + failed.astype(np.int64))

        serial = self.serial("equipment", n_dev)
        inst_dates = to_dates(installed)
        insp_dates = to_dates(inspected)
        due_dates = to_dates(next_due)
        county = s.county[unit_of].tolist()
        uscc = s.uscc[unit_of].tolist()
        plates = [c.plate for c in self.profile.counties]
        conclusions = ("pass", "conditional", "retest_pass", "fail")
        # Use registration within 30 days of use (特种设备安全法 第33条), renewed when the unit changed.
        reg_after = np.minimum(np.maximum(installed, s.registered[unit_of]) + rng.integers(1, 30, n_dev), self.today)
        reg_dates = to_dates(reg_after)
        eq_rows = out["equipment"]
        lic_rows = out["licence"]
        codes = self.county_codes
        cat_names = [cats[c] for c in category.tolist()]
        for j in range(n_dev):
            cat = cat_names[j]
            v = variety_code[j]
            q = int(serial[j])
            seq = f"{q:06d}" if q < 10**6 else "Z" + np.base_repr(q - 10**6, 36).rjust(5, "0")
            has = bool(has_inspection[j])
            eq_rows.append(
                {
                    "reg_code": f"{v}{codes[county[j]]}{inst_dates[j].year}{seq}",
                    "category": cat,
                    "sub_type": variety_name[j],
                    "user_uscc": uscc[j],
                    "location_type": location[j],
                    "installed_on": inst_dates[j],
                    "design_life_years": int(design[j]) if design[j] > 0 else None,
                    "last_inspected_on": insp_dates[j] if has else None,
                    "last_conclusion": conclusions[conclusion[j]] if has else None,
                    "next_due_on": due_dates[j] if recorded[j] else None,
                    "safety_grade": int(grade[j]) if graded[j] else None,
                    "open_hidden_dangers": int(dangers[j]),
                    "serious_hidden_dangers": int(serious[j]),
                    "status": _EQUIPMENT_STATUS[status[j]],
                }
            )
            # 使用登记证, e.g. 梯11粤V00023(19): category character, variety, plate, number, year of registration.
            lic_rows.append(
                {
                    "number": f"{vocab.CERTIFICATE_CHAR[cat]}{v[1:3]}{plates[county[j]]}{q:05d}({reg_dates[j].year % 100:02d})",
                    "uscc": uscc[j],
                    "kind": "special_equipment_use",
                    "valid_from": reg_dates[j],
                    "valid_to": None,
                }
            )
        # A few accidents (incl. minor incidents) in the last three years, more where dangers are open.
        p_acc = 0.0005 * 3 * (1 + 2 * (dangers > 0))
        acc = np.flatnonzero(rng.random(n_dev) < p_acc)
        if len(acc):
            window = np.minimum(1095, age[acc])
            day = self.today - np.floor(rng.random(len(acc)) * window).astype(np.int64)
            casualties = _choice(rng, [(0, 0.7), (1, 0.22), (2, 0.06), (3, 0.02)], len(acc))
            responsible = rng.random(len(acc)) < 0.6
            acc_serial = self.serial("accident", len(acc))
            for j, d, c, r, q in zip(
                acc.tolist(),
                to_dates(day),
                casualties.tolist(),
                responsible.tolist(),
                acc_serial.tolist(),
                strict=True,
            ):
                out["accident"].append(
                    {
                        "id": f"SG{d.year}{q:06d}",
                        "reg_code": eq_rows[len(eq_rows) - n_dev + j]["reg_code"],
                        "occurred_on": d,
                        "responsible": bool(r),
                        "casualties": int(c),
                    }
                )

    # ── past checks ─────────────────────────────────────────────────────────────────────────────────────
    def _checks(
        self,
        rng: np.random.Generator,
        s: _Subjects,
        food: np.ndarray,
        device: np.ndarray,
        unit: np.ndarray,
        checks: _Rows,
    ) -> None:
        # Routine checks over three years, one source per check item: 双随机 ratios by kind for the annual-report
        # items (河南 2020: enterprises 4 %, co-ops 3 %, individuals 1 %, a little more here for key checks), food
        # businesses (at least one full check every two years, 令49号 第22条), special-equipment users (揭东
        # checked ≈ 258 使用单位 a year in 2016–2020 against ≈ 1,175 units: 22 %) and device businesses.
        active = np.where(s.status == 0, 1.0, 0.3)
        report_item = np.where(s.kind == IND, "DJ-GT-01", "DJ-GS-01")
        sources = (
            (np.array([0.05, 0.015, 0.03])[s.kind], report_item, None),
            (0.3 * food, s.food_item, "targeted"),  # 专项 campaigns: some check points only
            (0.22 * unit, np.full(s.n, "TS-SY-01", dtype=object), None),
            (0.4 * device, s.device_item, None),
            (food.astype(float), s.food_item, "routine"),
        )
        for rate, items, how in sources:
            if how == "routine":
                # Full routine checks of food businesses on a cycle: every year, or every second year for
                # about 45 % (the low-risk ones in practice; 令49号 第22条 asks once in two years), at a random
                # phase, so the two-year rule finds some due this year (assumed shares).
                holders = np.flatnonzero(rate > 0)
                cycle = np.where(rng.random(len(holders)) < 0.45, 730, 365)
                phase = np.floor(rng.random(len(holders)) * cycle).astype(np.int64)
                reps = (1095 - phase) // cycle + 1
                idx = np.repeat(holders, reps)
                step = np.concatenate([np.arange(r) for r in reps.tolist()]) if len(reps) else np.zeros(0, np.int64)
                day = self.today - np.repeat(phase, reps) - step * np.repeat(cycle, reps)
                keep = day >= np.maximum(s.registered[idx], self.today - 1095)
                idx, day = idx[keep], day[keep]
            else:
                counts = rng.poisson(3 * rate * active)
                idx = np.repeat(np.arange(s.n), counts)
            if not len(idx):
                continue
            if how != "routine":
                window = np.minimum(1095, s.age[idx])
                day = self.today - np.floor(rng.random(len(idx)) * window).astype(np.int64)
            problem = rng.random(len(idx)) < np.minimum(0.8, 0.12 * s.risk[idx])
            codes: list[Any] = ["no_problem"] * len(idx)
            for k in (ENT, IND, COOP):
                sel = np.flatnonzero(problem & (s.kind[idx] == k))
                if not len(sel):
                    continue
                mix = np.array(vocab.PROBLEM_MIX[KINDS[k]])
                first = rng.choice(len(mix), size=len(sel), p=mix / mix.sum())
                second = rng.choice(len(mix), size=len(sel), p=mix / mix.sum())
                two = rng.random(len(sel)) < 0.1
                for j, a, b2, t in zip(sel.tolist(), first.tolist(), second.tolist(), two.tolist(), strict=True):
                    found = {vocab.PROBLEM_CODES[a]}
                    if t:
                        found.add(vocab.PROBLEM_CODES[b2])
                    codes[j] = sorted(found)
            kind = {"targeted": "targeted", "routine": "random"}.get(how or "")
            checks.add(idx, day, codes, kind=kind, items=np.asarray(items, dtype=object)[idx])
        # A check after 注销/吊销/迁出/撤销 records it with its own result code.
        gone = np.flatnonzero((s.status > 0) & (rng.random(s.n) < 0.3))
        if len(gone):
            day = self.today - np.floor(rng.random(len(gone)) * np.minimum(365, s.age[gone])).astype(np.int64)
            checks.add(gone, day, [_STATUS_RESULT[int(x)] for x in s.status[gone].tolist()], kind="random")

    # ── 工业产品生产许可证 ──────────────────────────────────────────────────────────────────────────────────
    def _industrial_licences(
        self, rng: np.random.Generator, s: _Subjects, out: dict[str, list[dict[str, Any]]]
    ) -> None:
        # Few manufacturers need one since the 2019 catalogue cut (about ten product kinds: 建筑用钢筋, 水泥,
        # 电线电缆, 危险化学品, 化肥, 食品相关产品 …): 6 % of active manufacturing enterprises (assumed).
        maker = (s.status == 0) & (s.kind == ENT) & self._prefix_mask(("C",))[s.industry]
        idx = np.flatnonzero(maker & (rng.random(s.n) < 0.06))
        if not len(idx):
            return
        start, end = self._licence_dates(rng, s.registered[idx])
        serial = self.serial("xk", len(idx))
        cat = rng.integers(1, 30, len(idx))
        uscc = s.uscc[idx].tolist()
        d_start, d_end = to_dates(start), to_dates(end)
        for j in range(len(idx)):
            out["licence"].append(
                {
                    "number": f"(粤)XK{int(cat[j]):02d}-001-{int(serial[j]):05d}",
                    "uscc": uscc[j],
                    "kind": "industrial_product",
                    "valid_from": d_start[j],
                    "valid_to": d_end[j],
                }
            )

    # ── annual reports (年度报告) ────────────────────────────────────────────────────────────────────────
    def _annual_reports(self, rng: np.random.Generator, s: _Subjects, out: dict[str, list[dict[str, Any]]]) -> None:
        # The last three report years. Each is filed 1 January – 30 June of the next year (企业信息公示暂行条例
        # 第8条); a subject reports from the year after it was set up. Filing shares are assumed, kept in line with
        # the seed's listings (揭东 listed ≈ 1,000 subjects a year, most for 无法联系): on time about 97 % of
        # enterprises, 96 % of co-ops, 95 % of individuals, fewer of the riskier; 1.5 % late, the rest never. A
        # subject now on the 经营异常名录 for not publishing did not file the latest report.
        today_year = int(_year(np.array([self.today]))[0])
        rows = out["annual_report"]
        uscc = s.uscc.tolist()
        on_time = np.array([0.97, 0.95, 0.96])[s.kind] - 0.02 * np.maximum(s.risk - 1.0, 0.0)
        for year in range(today_year - 3, today_year):
            year_end = _days(dt.date(year, 12, 31))
            opens, closes = _days(dt.date(year + 1, 1, 1)), _days(dt.date(year + 1, 6, 30))
            due = (s.status == 0) & (s.registered <= year_end) & (opens <= self.today)
            u = rng.random(s.n)
            late = (u >= on_time) & (u < on_time + 0.015)
            never = (u >= on_time + 0.015) | (s.unpublished & (year == today_year - 1))
            late &= ~never
            # Most file in the last weeks before 30 June.
            day = opens + np.floor(rng.beta(3.0, 1.2, s.n) * (closes - opens + 1)).astype(np.int64)
            day = np.where(late, closes + rng.integers(1, 180, s.n), day)
            filed = due & ~never & (day <= self.today)
            dates = to_dates(day)
            for j in np.flatnonzero(due).tolist():
                rows.append({"uscc": uscc[j], "year": year, "filed_on": dates[j] if filed[j] else None})

    # ── conflicts of interest (回避) ─────────────────────────────────────────────────────────────────────
    def _conflicts(self, rng: np.random.Generator, s: _Subjects, out: dict[str, list[dict[str, Any]]]) -> None:
        p = self.profile.conflicts_per_inspector * len(self.inspector_rows) / max(self.n, 1)
        idx = np.flatnonzero(rng.random(s.n) < p)
        if not len(idx):
            return
        inspectors = self._inspector_for(rng, s.county[idx], certified_only=False)
        reasons = _choice(rng, vocab.CONFLICT_REASONS, len(idx))
        uscc = s.uscc[idx].tolist()
        for j in range(len(idx)):
            out["conflict"].append(
                {
                    "inspector_id": inspectors[j],
                    "uscc": uscc[j],
                    "reason": vocab.CONFLICT_REASONS[reasons[j]][0],
                }
            )


# TSG T7001-2023: 定期检验 in years 1, 4, 7, 9, 11, 13 and 15 after installation, then every year.
_ELEVATOR_YEARS = [1, 4, 7, 9, 11, 13, 15] + list(range(16, 400))
_E_LAST = np.zeros(400, dtype=np.int64)
_E_NEXT = np.zeros(400, dtype=np.int64)
_E_PREV = np.zeros(400, dtype=np.int64)
for _y in range(400):
    _E_LAST[_y] = max([s for s in _ELEVATOR_YEARS if s <= _y], default=0)
    _E_NEXT[_y] = min(s for s in _ELEVATOR_YEARS if s > _y) if _y < 399 else _y + 1
    _E_PREV[_y] = max([s for s in _ELEVATOR_YEARS if s < _y], default=0)


def _schedule(
    y: np.ndarray, elevator: np.ndarray, first: np.ndarray, interval: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For devices `y` whole years old: the last scheduled inspection year (0 = none yet) and the next one."""
    yc = np.minimum(y, 398)
    last = np.where(y < first, 0, first + ((y - first) // interval) * interval)
    nxt = np.where(y < first, first, last + interval)
    return np.where(elevator, _E_LAST[yc], last), np.where(elevator, _E_NEXT[yc], nxt)


def _previous(s: np.ndarray, elevator: np.ndarray, first: np.ndarray, interval: np.ndarray) -> np.ndarray:
    generic = np.where(s - interval >= first, s - interval, 0)
    return np.where(elevator, _E_PREV[np.minimum(s, 399)], generic)


def _following(s: np.ndarray, elevator: np.ndarray, first: np.ndarray, interval: np.ndarray) -> np.ndarray:
    generic = np.where(s < first, first, s + interval)
    return np.where(elevator, _E_NEXT[np.minimum(s, 398)], generic)


@dataclass
class _Subjects:
    """One batch of subjects as parallel numpy arrays (index = position in the batch)."""

    gen: Generator
    rng: np.random.Generator
    n: int
    kind: np.ndarray
    z: np.ndarray
    risk: np.ndarray
    township: np.ndarray
    county: np.ndarray
    industry: np.ndarray
    age: np.ndarray
    registered: np.ndarray
    status: np.ndarray
    uscc: np.ndarray
    whitelist: np.ndarray
    lenient: np.ndarray
    # The check item of the subject's food and device business (None: none), filled as businesses are made.
    food_item: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    device_item: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    # On the 经营异常名录 now for not publishing what it must (its latest annual report is missing).
    unpublished: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        if len(self.food_item) != self.n:
            self.food_item = np.full(self.n, None, dtype=object)
            self.device_item = np.full(self.n, None, dtype=object)
            self.unpublished = np.zeros(self.n, dtype=bool)

    def rows(self) -> list[dict[str, Any]]:
        g = self.gen
        rng = self.rng
        n = self.n
        counties = g.profile.counties
        brand_a = rng.integers(0, len(vocab.BRAND_FIRST), n).tolist()
        brand_b = rng.integers(0, len(vocab.BRAND_SECOND), n).tolist()
        word_u = rng.random(n).tolist()
        form = _choice(rng, vocab.ENTERPRISE_FORMS, n).tolist()
        with_district = (rng.random(n) < 0.3).tolist()
        surname = np.array([s for s, _ in vocab.SURNAMES], dtype=object)[_choice(rng, vocab.SURNAMES, n)].tolist()
        use_surname = (rng.random(n) < 0.3).tolist()
        road = rng.integers(0, len(vocab.ROADS), n).tolist()
        village = rng.integers(0, len(vocab.VILLAGES), n).tolist()
        house = rng.integers(1, 400, n).tolist()
        in_village = (rng.random(n) < 0.6).tolist()
        registered = to_dates(self.registered)
        kinds = self.kind.tolist()
        twp = self.township.tolist()
        cty = self.county.tolist()
        ind = self.industry.tolist()
        status = self.status.tolist()
        uscc = self.uscc.tolist()
        white = self.whitelist.tolist()
        lenient = self.lenient.tolist()
        rows: list[dict[str, Any]] = []
        for j in range(n):
            county = counties[cty[j]]
            words = g.ind_words[ind[j]]
            word = words[int(word_u[j] * len(words))]
            brand = vocab.BRAND_FIRST[brand_a[j]] + vocab.BRAND_SECOND[brand_b[j]]
            t = twp[j]
            town_short = g.township_short[t]
            k = kinds[j]
            if k == ENT:
                if word.endswith(vocab.SHOP_ENDINGS):
                    plain = [w for w in words if not w.endswith(vocab.SHOP_ENDINGS)]
                    word = plain[0] if plain else vocab.ENTERPRISE_WORD.get(g.ind_codes[ind[j]][0], "实业")
                district = county.name if with_district[j] else ""
                name = f"{county.city}{district}{brand}{word}{vocab.ENTERPRISE_FORMS[form[j]][0]}"
            elif k == IND:
                owner = surname[j] + "记" if use_surname[j] else brand
                suffix = (
                    ""
                    if word.endswith(vocab.SHOP_ENDINGS)
                    else vocab.INDIVIDUAL_SUFFIX.get(g.ind_codes[ind[j]][0], "经营部")
                )
                name = f"{county.name}{town_short}{owner}{word}{suffix}"
            else:
                name = f"{county.city}{county.name}{town_short}{brand}{word}专业合作社"
            place = g.township_names[t]
            if g.township_is_town[t] and in_village[j]:
                address = f"{county.city}{county.name}{place}{vocab.VILLAGES[village[j]]}村{house[j]}号"
            else:
                address = f"{county.city}{county.name}{place}{vocab.ROADS[road[j]]}{house[j]}号"
            rows.append(
                {
                    "uscc": uscc[j],
                    "name": name,
                    "kind": KINDS[k],
                    "industry": g.ind_codes[ind[j]],
                    "region": g.township_codes[t],
                    "address": address,
                    "registered_on": registered[j],
                    "status": _STATUSES[status[j]],
                    "whitelist": bool(white[j]),
                    "lenient": bool(lenient[j]),
                }
            )
        return rows


_LEVEL_STREAM = 1  # the spawn key's second part for a batch's check-level stream (the batch's own stream is (b,))


class _Rows:
    """Past checks collected from several sources in a batch, numbered and turned into rows at the end."""

    def __init__(self) -> None:
        self.idx: list[np.ndarray] = []
        self.day: list[np.ndarray] = []
        self.codes: list[Any] = []
        self.kind: list[Any] = []
        self.items: list[Any] = []

    def add(self, idx: np.ndarray, day: np.ndarray, codes: Sequence[Any], kind: str | None, items: Any = None) -> None:
        self.idx.append(np.asarray(idx, dtype=np.int64))
        self.day.append(np.asarray(day, dtype=np.int64))
        self.codes.extend(codes)
        self.kind.append((kind, len(idx)))
        self.items.extend([None] * len(idx) if items is None else list(items))

    def finish(
        self, g: Generator, rng: np.random.Generator, s: _Subjects, levels: np.random.Generator
    ) -> list[dict[str, Any]]:
        if not self.idx:
            return []
        idx = np.concatenate(self.idx)
        day = np.concatenate(self.day)
        m = len(idx)
        kinds: list[str] = []
        for kind, count in self.kind:
            if kind is None:
                drawn = _choice(rng, vocab.CHECK_KINDS, count).tolist()
                kinds.extend(vocab.CHECK_KINDS[d][0] for d in drawn)
            else:
                kinds.extend([kind] * count)
        lead = g._inspector_for(rng, s.county[idx], certified_only=True)
        level = _levels(levels, kinds)
        serial = g.serial("check", m)
        dates = to_dates(day)
        uscc = s.uscc[idx].tolist()
        rows = []
        for j in range(m):
            codes = self.codes[j]
            rows.append(
                {
                    "id": f"JC{dates[j].year}{serial[j]:08d}",
                    "uscc": uscc[j],
                    "checked_on": dates[j],
                    "item_code": self.items[j],
                    "kind": kinds[j],
                    "result_codes": [codes] if isinstance(codes, str) else list(codes),
                    # A higher level's check was led by one of its own inspectors, who is not on this roster.
                    "lead_inspector": lead[j] if level[j] == "county" else None,
                    "level": level[j],
                }
            )
        return rows


def _levels(rng: np.random.Generator, kinds: Sequence[str]) -> list[str]:
    """The level that made each check (vocab.CHECK_LEVEL_MIX by the check's kind): one uniform draw per check."""
    u = rng.random(len(kinds))
    out: list[str] = []
    for k, x in zip(kinds, u.tolist(), strict=True):
        mix = vocab.CHECK_LEVEL_MIX["lead" if k == "lead" else "targeted" if k == "targeted" else "routine"]
        total = 0.0
        chosen = mix[-1][0]
        for name, share in mix:
            total += share
            if x < total:
                chosen = name
                break
        out.append(chosen)
    return out
