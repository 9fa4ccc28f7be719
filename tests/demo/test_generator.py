"""The demo generator: determinism, no shared keys, messiness, truth coverage, hard cases."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path
from statistics import median
from typing import Any

import pytest

from c360.core.errors import C360Error
from c360.demo.generator import KINDS, GenerateReport, generate

AS_OF = dt.date(2026, 6, 1)
AS_OF_TS = int(dt.datetime(2026, 6, 1, tzinfo=dt.UTC).timestamp())
N = 200
FREE_MAIL = {"gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com", "proton.me"}
SF_ID = re.compile(r"^001[0-9A-Za-z]{15}$")


def sf_checksum_ok(key: str) -> bool:
    """Salesforce's 18-character ids end in a checksum of the case of the first 15."""
    table = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for chunk in (key[0:5], key[5:10], key[10:15]):
        suffix += table[sum(1 << i for i, c in enumerate(chunk) if c.isupper())]
    return key[15:] == suffix


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> GenerateReport:
    return generate(tmp_path_factory.mktemp("default"), accounts=N, seed=7, as_of=AS_OF)


@pytest.fixture(scope="module")
def hard(tmp_path_factory: pytest.TempPathFactory) -> GenerateReport:
    out = tmp_path_factory.mktemp("hard")
    return generate(out, accounts=N, seed=11, difficulty="hard", as_of=AS_OF)


@pytest.fixture(scope="module")
def easy(tmp_path_factory: pytest.TempPathFactory) -> GenerateReport:
    out = tmp_path_factory.mktemp("easy")
    return generate(out, accounts=N, seed=7, difficulty="easy", as_of=AS_OF)


def crm_rows(out: Path) -> tuple[list[dict[str, str]], list[list[str]]]:
    """Well-formed CRM rows as dicts, and the raw rows whose column count is wrong."""
    with (out / "crm_accounts.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        good: list[list[str]] = []
        bad: list[list[str]] = []
        for row in reader:
            (good if len(row) == len(header) else bad).append(row)
    return [dict(zip(header, row, strict=True)) for row in good], bad


def jsonl(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    good: list[dict[str, Any]] = []
    bad: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            good.append(json.loads(line))
        except json.JSONDecodeError:
            bad.append(line)
    return good, bad


def users(out: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(out / "product.db")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM users ORDER BY id")]
    finally:
        db.close()


def truth(out: Path) -> list[dict[str, str]]:
    with (out / "truth.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def owner(out: Path) -> dict[tuple[str, str], str]:
    return {(r["source"], r["source_key"]): r["true_account_id"] for r in truth(out)}


# -- determinism ---------------------------------------------------------------------------


def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", accounts=120, seed=3, difficulty="hard", as_of=AS_OF)
    b = generate(tmp_path / "b", accounts=120, seed=3, difficulty="hard", as_of=AS_OF)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(a.files[k].name for k in a.files)
    for name, path in a.files.items():
        assert path.read_bytes() == b.files[name].read_bytes(), name
    assert a.counts == b.counts and a.malformed == b.malformed


def test_a_different_seed_gives_different_data(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", accounts=120, seed=3, as_of=AS_OF)
    b = generate(tmp_path / "b", accounts=120, seed=4, as_of=AS_OF)
    for name in ("crm", "billing_customers", "support", "truth"):
        assert a.files[name].read_bytes() != b.files[name].read_bytes(), name


def test_regenerating_into_the_same_directory_overwrites(tmp_path: Path) -> None:
    first = generate(tmp_path, accounts=60, seed=5, as_of=AS_OF)
    before = {k: p.read_bytes() for k, p in first.files.items()}
    again = generate(tmp_path, accounts=60, seed=5, as_of=AS_OF)
    assert {k: p.read_bytes() for k, p in again.files.items()} == before


# -- shapes and keys -----------------------------------------------------------------------


def test_sources_share_no_key(default: GenerateReport) -> None:
    out = default.out_dir
    crm, _ = crm_rows(out)
    ids = [r["Id"] for r in crm]
    assert ids and all(SF_ID.match(i) and sf_checksum_ok(i) for i in ids)
    support_text = (out / "support_tickets.jsonl").read_text(encoding="utf-8")
    product_text = json.dumps(users(out))
    assert not [i for i in ids if i in support_text or i in product_text]

    customers, _ = jsonl(out / "billing_customers.jsonl")
    assert all(re.fullmatch(r"cus_[0-9A-Za-z]{14}", c["id"]) for c in customers)
    tickets, _ = jsonl(out / "support_tickets.jsonl")
    assert all(type(t["id"]) is int for t in tickets)
    product = users(out)
    assert product and all(type(u["id"]) is int for u in product)
    # The only bridge is billing's explicit cross-reference, and only to CRM ids.
    xrefs = [c["metadata"]["crm_account_id"] for c in customers if c["metadata"]]
    broken = {m.key for m in default.malformed if m.source == "crm"}
    assert xrefs and set(xrefs) <= set(ids) | broken


def test_crm_export_has_the_salesforce_shape(default: GenerateReport) -> None:
    crm, _ = crm_rows(default.out_dir)
    header = next(csv.reader((default.out_dir / "crm_accounts.csv").open(encoding="utf-8")))
    assert header == [
        "Id",
        "Name",
        "Website",
        "Phone",
        "BillingStreet",
        "BillingCity",
        "BillingPostalCode",
        "BillingCountry",
        "Industry",
        "Tier",
        "AnnualRevenue",
        "OwnerName",
        "MarketingOptIn",
        "CreatedDate",
        "SystemModstamp",
    ]
    assert {r["Tier"] for r in crm} == {"Tier 1", "Tier 2", "Tier 3", "Strategic"}
    assert {r["MarketingOptIn"] for r in crm} == {"true", "false"}
    revenues = [r["AnnualRevenue"] for r in crm if r["AnnualRevenue"]]
    assert revenues and all(re.fullmatch(r"\d+\.\d\d", v) for v in revenues)
    for r in crm:
        for col in ("CreatedDate", "SystemModstamp"):
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000", r[col])
        assert r["CreatedDate"] <= r["SystemModstamp"]
    countries = Counter(r["BillingCountry"] for r in crm)
    assert {"United Kingdom", "UK", "GB"} & set(countries) and len(countries) >= 8


def test_product_table_schema(default: GenerateReport) -> None:
    db = sqlite3.connect(default.out_dir / "product.db")
    try:
        cols = [(r[1], r[2]) for r in db.execute("PRAGMA table_info(users)")]
    finally:
        db.close()
    assert cols == [
        ("id", "INTEGER"),
        ("email", "TEXT"),
        ("full_name", "TEXT"),
        ("workspace", "TEXT"),
        ("role", "TEXT"),
        ("seats", "INTEGER"),
        ("created_at", "TEXT"),
        ("last_login_at", "TEXT"),
        ("updated_at", "TEXT"),
        ("deleted_at", "TEXT"),
    ]


def test_every_timestamp_lies_in_the_two_years_before_as_of(default: GenerateReport) -> None:
    out = default.out_dir
    low = AS_OF_TS - 740 * 86_400
    customers, _ = jsonl(out / "billing_customers.jsonl")
    invoices, _ = jsonl(out / "billing_invoices.jsonl")
    subs, _ = jsonl(out / "billing_subscriptions.jsonl")
    stamps = [c["created"] for c in customers + invoices + subs]
    assert all(type(s) is int and low <= s <= AS_OF_TS for s in stamps)
    tickets, _ = jsonl(out / "support_tickets.jsonl")
    for t in tickets:
        created = dt.datetime.fromisoformat(t["created_at"]).timestamp()
        updated = dt.datetime.fromisoformat(t["updated_at"]).timestamp()
        assert low <= created <= updated <= AS_OF_TS
    for u in users(out):
        for col in ("created_at", "last_login_at", "updated_at", "deleted_at"):
            if u[col] is not None:
                assert low <= dt.datetime.fromisoformat(u[col]).timestamp() <= AS_OF_TS


# -- messiness -----------------------------------------------------------------------------


def test_websites_come_in_several_forms(default: GenerateReport) -> None:
    crm, _ = crm_rows(default.out_dir)
    forms = Counter(
        (w.split("://")[0] if "://" in w else "", "www." in w, w.endswith("/"))
        for w in (r["Website"] for r in crm)
        if w
    )
    assert len(forms) >= 5
    assert any(not r["Website"] for r in crm)  # some accounts have none


def test_billing_names_differ_from_crm_for_a_share(default: GenerateReport) -> None:
    out = default.out_dir
    truth_of = owner(out)
    crm, _ = crm_rows(out)
    crm_name = {truth_of[("crm", r["Id"])]: r["Name"] for r in crm}
    customers, _ = jsonl(out / "billing_customers.jsonl")
    pairs = [
        (c["name"], crm_name[truth_of[("billing", c["id"])]])
        for c in customers
        if truth_of[("billing", c["id"])] in crm_name
    ]
    differ = sum(b != c for b, c in pairs)
    assert 0.25 < differ / len(pairs) < 0.8
    assert any(b == b.upper() and b != c for b, c in pairs)  # "NORTHWIND TRADING LIMITED"


def test_billing_uses_unix_seconds_minor_units_and_partial_xrefs(default: GenerateReport) -> None:
    out = default.out_dir
    customers, _ = jsonl(out / "billing_customers.jsonl")
    subs, _ = jsonl(out / "billing_subscriptions.jsonl")
    invoices, _ = jsonl(out / "billing_invoices.jsonl")
    currency = {c["id"]: c["currency"] for c in customers}
    assert all(type(c["created"]) is int for c in customers)
    assert all(len(c["address"]["country"]) == 2 for c in customers)
    with_xref = sum("crm_account_id" in c["metadata"] for c in customers)
    assert 0.4 < with_xref / len(customers) < 0.8
    assert all(c["metadata"] in ({}, {"crm_account_id": c["metadata"].get("crm_account_id")}) for c in customers)
    per_customer = Counter(s["customer"] for s in subs)
    assert set(per_customer) == set(currency) and set(per_customer.values()) <= {1, 2}
    for s in subs:
        assert type(s["plan"]["amount"]) is int and s["plan"]["currency"] == currency[s["customer"]]
        assert s["current_period_end"] > s["created"]
    # Minor units: a monthly seat costs pounds, so in pence it is a multiple of 100 or more.
    gbp = [s["plan"]["amount"] for s in subs if s["plan"]["currency"] == "gbp"]
    assert gbp and min(gbp) >= 100
    for inv in invoices:
        assert inv["currency"] == currency[inv["customer"]]
        assert inv["amount_paid"] == (inv["amount_due"] if inv["status"] == "paid" else 0)
    assert Counter(i["customer"] for i in invoices).most_common(1)[0][1] > 3


def test_jpy_amounts_have_no_minor_unit(tmp_path: Path) -> None:
    report = generate(tmp_path, accounts=400, seed=9, as_of=AS_OF)
    subs, _ = jsonl(report.files["billing_subscriptions"])

    def monthly(currency: str) -> list[float]:
        return [
            s["plan"]["amount"] / (10 if s["plan"]["interval"] == "year" else 1)
            for s in subs
            if s["plan"]["currency"] == currency
        ]

    # A pound is ~190 yen and 100 pence, so like-for-like prices in each currency's own unit
    # (whole yen, pence) are ~1.9x apart; yen written in hundredths would be ~190x.
    ratio = median(monthly("jpy")) / median(monthly("gbp"))
    assert 0.5 < ratio < 5
    invoices, _ = jsonl(report.files["billing_invoices"])
    by_sub = {s["customer"]: s for s in subs}
    jpy = [i for i in invoices if i["currency"] == "jpy"]
    assert jpy and all(type(i["amount_due"]) is int for i in jpy)
    amounts = {s["plan"]["amount"] * s["quantity"] for s in subs if s["plan"]["currency"] == "jpy"}
    assert any(i["amount_due"] in amounts for i in jpy if i["customer"] in by_sub)


def test_last_login_carries_offsets(default: GenerateReport) -> None:
    logins = [u["last_login_at"] for u in users(default.out_dir)]
    assert None in logins  # some never logged in
    suffixes = {dt.datetime.fromisoformat(v).utcoffset() for v in logins if v}
    assert dt.timedelta(0) in suffixes
    assert any(s and s > dt.timedelta(0) for s in suffixes)
    assert any(s and s < dt.timedelta(0) for s in suffixes)
    assert any(v.endswith("Z") for v in logins if v)
    assert any(u["deleted_at"] for u in users(default.out_dir))
    updated = [u["updated_at"] for u in users(default.out_dir)]
    assert all(v.endswith("Z") for v in updated)


def test_support_has_a_free_mail_share_with_and_without_org(default: GenerateReport) -> None:
    tickets, _ = jsonl(default.out_dir / "support_tickets.jsonl")
    free = [t for t in tickets if t["requester"]["email"].split("@")[1].lower() in FREE_MAIL]
    assert 0.08 < len(free) / len(tickets) < 0.25
    assert any(t["organization"] is None for t in free)
    assert any(t["organization"] is not None for t in free)
    kinds = {(r["source"], r["source_key"]): r["kind"] for r in truth(default.out_dir)}
    # An address that a ticket with an organisation or a product user also carries places the
    # ticket by itself; only the others are undecidable.
    placed = {t["requester"]["email"].strip().lower() for t in tickets if t["organization"]}
    placed |= {u["email"].strip().lower() for u in users(default.out_dir) if u["deleted_at"] is None}
    truth_of = owner(default.out_dir)
    named = {
        (truth_of[("product", str(u["id"]))], u["full_name"].strip().lower())
        for u in users(default.out_dir)
        if u["deleted_at"] is None and u["full_name"]
    }
    for t in free:
        email = t["requester"]["email"].strip().lower()
        by_name = (truth_of[("support", str(t["id"]))], t["requester"]["name"].strip().lower()) in named
        expected = "free_mail" if t["organization"] or email in placed or by_name else "free_mail_no_org"
        assert kinds[("support", str(t["id"]))] == expected
    assert any(k == "free_mail_no_org" for k in kinds.values())
    statuses = {t["status"] for t in tickets}
    assert {"open", "solved", "closed"} <= statuses


def test_product_users_per_account(default: GenerateReport) -> None:
    out = default.out_dir
    truth_of = owner(out)
    per_account = Counter(truth_of[("product", str(u["id"]))] for u in users(out))
    assert max(per_account.values()) <= 8 and min(per_account.values()) >= 1
    assert max(per_account.values()) > 3


# -- truth ---------------------------------------------------------------------------------


def test_truth_covers_every_wellformed_record_once(default: GenerateReport) -> None:
    out = default.out_dir
    rows = truth(out)
    keys = [(r["source"], r["source_key"]) for r in rows]
    assert len(keys) == len(set(keys)) == default.counts["truth"]
    crm, _ = crm_rows(out)
    customers, _ = jsonl(out / "billing_customers.jsonl")
    tickets, _ = jsonl(out / "support_tickets.jsonl")
    expected = (
        {("crm", r["Id"]) for r in crm}
        | {("billing", c["id"]) for c in customers}
        | {("support", str(t["id"])) for t in tickets}
        | {("product", str(u["id"])) for u in users(out)}
    )
    assert set(keys) == expected
    assert {r["kind"] for r in rows} <= set(KINDS)
    assert all(re.fullmatch(r"A\d{6}", r["true_account_id"]) for r in rows)
    assert default.counts["crm"] == len(crm) and default.counts["support"] == len(tickets)


def test_malformed_rows_are_broken_and_absent_from_truth(default: GenerateReport) -> None:
    out = default.out_dir
    assert [m.source for m in default.malformed] == ["crm", "support"]
    keys = {(r["source"], r["source_key"]) for r in truth(out)}
    _, bad_crm = crm_rows(out)
    _, bad_tickets = jsonl(out / "support_tickets.jsonl")
    assert len(bad_crm) == 1 and len(bad_crm[0]) == 16
    assert len(bad_tickets) == 1
    for m in default.malformed:
        line = (out / m.file).read_text(encoding="utf-8").splitlines()[m.line - 1]
        assert m.key in line
        assert (m.source, m.key) not in keys
        if m.source == "crm":
            assert len(next(csv.reader([line]))) == 16
        else:
            with pytest.raises(json.JSONDecodeError):
                json.loads(line)
    assert "crm_accounts.csv line" in (out / "README.txt").read_text(encoding="utf-8")


def test_malformed_count_is_honoured(tmp_path: Path) -> None:
    none = generate(tmp_path / "none", accounts=60, seed=2, malformed=0, as_of=AS_OF)
    assert none.malformed == ()
    assert not crm_rows(none.out_dir)[1] and not jsonl(none.files["support"])[1]
    three = generate(tmp_path / "three", accounts=60, seed=2, malformed=3, as_of=AS_OF)
    assert Counter(m.source for m in three.malformed) == {"crm": 2, "support": 1}
    assert len(crm_rows(three.out_dir)[1]) == 2


# -- difficulty ----------------------------------------------------------------------------


def test_hard_emits_every_kind(hard: GenerateReport) -> None:
    kinds = Counter(r["kind"] for r in truth(hard.out_dir))
    assert set(kinds) == set(KINDS)
    assert hard.kinds == dict(sorted(kinds.items()))
    total = sum(kinds.values())
    for kind, count in kinds.items():
        if kind not in ("clean", "free_mail", "free_mail_no_org"):
            assert count / total < 0.1, kind  # each hard case stays a few percent


def test_hard_cases_are_what_their_tag_says(hard: GenerateReport) -> None:
    out = hard.out_dir
    rows = truth(out)
    truth_of = {(r["source"], r["source_key"]): r["true_account_id"] for r in rows}
    kind_of = {(r["source"], r["source_key"]): r["kind"] for r in rows}
    crm, _ = crm_rows(out)
    by_kind: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in crm:
        by_kind[kind_of[("crm", r["Id"])]].append(r)

    # duplicate: one company, two CRM records
    dup = Counter(truth_of[("crm", r["Id"])] for r in by_kind["duplicate"])
    assert dup and set(dup.values()) == {2}
    # shared_address: distinct accounts at one street and postcode
    at = defaultdict(set)
    for r in by_kind["shared_address"]:
        at[(r["BillingStreet"], r["BillingPostalCode"].upper().replace(" ", ""))].add(truth_of[("crm", r["Id"])])
    assert any(len(accounts) == 2 for accounts in at.values())

    customers, _ = jsonl(out / "billing_customers.jsonl")
    crm_ids_of: dict[str, set[str]] = defaultdict(set)
    for r in crm:
        crm_ids_of[truth_of[("crm", r["Id"])]].add(r["Id"])
    stale = [c for c in customers if kind_of[("billing", c["id"])] == "stale_xref"]
    assert stale
    for c in stale:
        assert c["metadata"]["crm_account_id"] not in crm_ids_of[truth_of[("billing", c["id"])]]
    # subsidiary_domain: distinct accounts billed at one email domain
    domains = defaultdict(set)
    for c in customers:
        if kind_of[("billing", c["id"])] == "subsidiary_domain":
            domains[c["email"].split("@")[1]].add(truth_of[("billing", c["id"])])
    assert any(len(accounts) > 1 for accounts in domains.values())
    # rebrand: billing's name shares no word with any CRM name of that account
    crm_names = defaultdict(set)
    for r in crm:
        crm_names[truth_of[("crm", r["Id"])]].add(r["Name"].casefold())
    rebrands = [c for c in customers if kind_of[("billing", c["id"])] == "rebrand"]
    assert rebrands
    for c in rebrands:
        assert not c["metadata"]
        names = crm_names[truth_of[("billing", c["id"])]]
        assert names and all(c["name"].split()[0].casefold() not in n.split() for n in names)

    tickets, _ = jsonl(out / "support_tickets.jsonl")
    domain_owner = defaultdict(set)
    for t in tickets:
        if kind_of[("support", str(t["id"]))] == "clean":
            domain_owner[t["requester"]["email"].split("@")[1].lower()].add(truth_of[("support", str(t["id"]))])
    contractors = [t for t in tickets if kind_of[("support", str(t["id"]))] == "contractor"]
    assert contractors and all(t["organization"] for t in contractors)
    for t in contractors:
        domain = t["requester"]["email"].split("@")[1].lower()
        assert truth_of[("support", str(t["id"]))] not in domain_owner.get(domain, set())


def test_easy_is_clean(easy: GenerateReport) -> None:
    out = easy.out_dir
    truth_of = owner(out)
    crm, bad = crm_rows(out)
    crm_name = {truth_of[("crm", r["Id"])]: r["Name"] for r in crm}
    customers, _ = jsonl(out / "billing_customers.jsonl")
    assert sum("crm_account_id" in c["metadata"] for c in customers) / len(customers) > 0.8
    pairs = [(c["name"], crm_name.get(truth_of[("billing", c["id"])])) for c in customers]
    assert len([p for p in pairs if p[1] is None]) <= 1  # the account whose CRM row is broken
    assert all(b == c for b, c in pairs if c is not None)
    assert all(r["Website"].startswith("https://www.") for r in crm)
    assert {r["kind"] for r in truth(out)} <= {"clean", "free_mail"}
    assert len(bad) == 1  # malformed rows still come by default


def test_unknown_difficulty_suggests_the_closest(tmp_path: Path) -> None:
    with pytest.raises(C360Error, match="did you mean 'hard'"):
        generate(tmp_path, accounts=10, difficulty="hrad", as_of=AS_OF)
    with pytest.raises(C360Error, match="at least 1"):
        generate(tmp_path, accounts=0, as_of=AS_OF)


def test_tiny_worlds_still_generate(tmp_path: Path) -> None:
    report = generate(tmp_path, accounts=3, seed=1, difficulty="hard", as_of=AS_OF)
    rows = truth(tmp_path)
    assert {r["true_account_id"] for r in rows} <= {"A000001", "A000002", "A000003"}
    assert report.counts["truth"] == len(rows)
