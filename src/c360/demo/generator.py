"""The demo data generator: four sources that share no key, plus the truth that links them.

>>> report = generate(Path("demo-data"), accounts=500, as_of=dt.date(2026, 6, 1))  # doctest: +SKIP
>>> sorted(report.counts)  # doctest: +SKIP
['billing_customers', 'billing_invoices', 'billing_subscriptions', 'crm', 'product', ...]

Every record of every source belongs to one generated account (``A000123``); ``truth.csv``
says which, and tags the case each record illustrates (``clean``, ``near_name``,
``free_mail``, ...) so an evaluation can report resolution errors per kind. Output is a pure
function of the arguments: the same arguments give byte-identical files.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from c360.core.clock import utcnow
from c360.core.errors import C360Error
from c360.core.text import closest
from c360.demo import _forms as forms
from c360.demo._accounts import DAY, Account, Person, Registry, build_accounts, free_mail_address, outsider
from c360.demo._billing import price_ids, subscriptions
from c360.demo._words import SALES_OWNERS, TICKET_PRIORITIES, TICKET_SUBJECTS

__all__ = ["DIFFICULTIES", "KINDS", "GenerateReport", "MalformedRecord", "generate"]

DIFFICULTIES = ("easy", "default", "hard")

KINDS = (
    "clean",
    "near_name",
    "franchise",
    "subsidiary_domain",
    "shared_address",
    "trading_name",
    "rebrand",
    "contractor",
    "free_mail",
    "free_mail_no_org",
    "stale_xref",
    "duplicate",
)

CRM_HEADER = (
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
)

FILES = {
    "crm": "crm_accounts.csv",
    "billing_customers": "billing_customers.jsonl",
    "billing_subscriptions": "billing_subscriptions.jsonl",
    "billing_invoices": "billing_invoices.jsonl",
    "support": "support_tickets.jsonl",
    "product": "product.db",
    "truth": "truth.csv",
    "readme": "README.txt",
}

_README = (
    "Demo data for c360: one generated world of {accounts} customer accounts seen by four "
    "systems that share no common key. crm_accounts.csv is a Salesforce Account export "
    "(18-character Ids, legal names, websites, phones and countries typed in mixed forms). "
    "billing_customers.jsonl, billing_subscriptions.jsonl and billing_invoices.jsonl are Stripe "
    "customer, subscription and invoice objects (Unix-second times, amounts in the currency's "
    "minor unit, whole yen for JPY; metadata.crm_account_id links a share of customers to the "
    "CRM, not always correctly). support_tickets.jsonl holds Zendesk tickets whose requesters "
    "write from corporate or free-mail addresses, with or without an organisation. product.db "
    "is a SQLite database whose users table has internal integer ids, workspace names, "
    "last_login_at with UTC offsets and soft deletes. truth.csv maps every well-formed record "
    "(source, source_key) to the account it belongs to (true_account_id) and tags the case it "
    "illustrates (kind); a contractor ticket belongs to the contractor's own company, named "
    "by its organisation, not to the client whose email domain it uses. Deliberately malformed "
    "records are absent from truth.csv: {malformed}. Generated with seed {seed}, difficulty "
    "{difficulty}, as of {as_of}.\n"
)


@dataclass(frozen=True)
class MalformedRecord:
    """A record written broken on purpose, so quarantine has something to catch."""

    source: str
    file: str
    line: int  # 1-based line in the file, the CSV header being line 1
    key: str
    reason: str


@dataclass(frozen=True)
class GenerateReport:
    """What :func:`generate` wrote: files, well-formed record counts per source, broken rows."""

    out_dir: Path
    files: dict[str, Path]
    counts: dict[str, int]
    malformed: tuple[MalformedRecord, ...]
    accounts: int
    seed: int
    difficulty: str
    as_of: dt.date
    kinds: dict[str, int] = field(default_factory=dict)


class _Truth:
    def __init__(self, handle: IO[str]) -> None:
        self.writer = csv.writer(handle, lineterminator="\n")
        self.writer.writerow(("source", "source_key", "true_account_id", "kind"))
        self.kinds: dict[str, int] = {}
        self.rows = 0

        # Tickets of free-mail requesters with no organisation wait until every source is
        # written: the one whose address another record also carries can be placed by it.
        self._deferred: list[tuple[str, str | int, Account, str, str, str]] = []
        self.placed_emails: set[str] = set()
        self.placed_names: set[tuple[str, str]] = set()  # (account, person's name) of product users

    def add(self, source: str, key: str | int, acc: Account, kind: str) -> None:
        self.writer.writerow((source, key, acc.number, kind))
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        self.rows += 1

    def defer(self, source: str, key: str | int, acc: Account, kind: str, email: str, name: str) -> None:
        self._deferred.append((source, key, acc, kind, email.strip().lower(), name.strip().lower()))

    def finish(self) -> None:
        """Write the deferred rows: decidable after all when their address is on a placed record,
        or their name is a product user's of the same account."""
        for source, key, acc, kind, email, name in self._deferred:
            placed = email in self.placed_emails or (acc.number, name) in self.placed_names
            self.add(source, key, acc, "free_mail" if placed else kind)
        self._deferred = []


@dataclass
class _Context:
    rng: random.Random
    reg: Registry
    accounts: list[Account]
    difficulty: str
    start: int
    end: int
    malformed: int
    out_dir: Path
    truth: _Truth
    broken: list[MalformedRecord] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.difficulty == "easy"

    def between(self, low: int, high: int) -> int:
        return self.rng.randint(low, max(low, high))


def generate(
    out_dir: Path,
    *,
    accounts: int = 2000,
    seed: int = 7,
    difficulty: str = "default",
    as_of: dt.date | None = None,
    malformed: int = 2,
) -> GenerateReport:
    """Write the demo sources, ``truth.csv`` and ``README.txt`` into ``out_dir``."""
    if difficulty not in DIFFICULTIES:
        hint = closest(difficulty, DIFFICULTIES)
        expected = ", ".join(DIFFICULTIES)
        message = f"unknown demo difficulty '{difficulty}'; expected one of {expected}"
        raise C360Error(message + (f"; did you mean '{hint}'?" if hint else ""))
    if accounts < 1:
        raise C360Error(f"demo accounts must be at least 1, got {accounts}")
    if malformed < 0:
        raise C360Error(f"demo malformed must be 0 or more, got {malformed}")
    as_of = as_of or utcnow().date()
    end = int(dt.datetime(as_of.year, as_of.month, as_of.day, tzinfo=dt.UTC).timestamp())
    start = end - 730 * DAY

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    reg = Registry(rng)
    world = build_accounts(rng, reg, accounts, difficulty, start, end)

    counts: dict[str, int] = {}
    with (out_dir / FILES["truth"]).open("w", encoding="utf-8", newline="") as handle:
        truth = _Truth(handle)
        ctx = _Context(rng, reg, world, difficulty, start, end, malformed, out_dir, truth)
        counts["crm"] = _write_crm(ctx)
        counts.update(_write_billing(ctx))
        counts["support"] = _write_support(ctx)
        counts["product"] = _write_product(ctx)
        truth.finish()
    counts["truth"] = truth.rows

    broken = tuple(ctx.broken)
    listed = "; ".join(f"{b.file} line {b.line} ({b.reason})" for b in broken) or "none"
    readme = _README.format(accounts=accounts, malformed=listed, seed=seed, difficulty=difficulty, as_of=as_of)
    (out_dir / FILES["readme"]).write_text(readme, encoding="utf-8")
    return GenerateReport(
        out_dir=out_dir,
        files={name: out_dir / file for name, file in FILES.items()},
        counts=counts,
        malformed=broken,
        accounts=accounts,
        seed=seed,
        difficulty=difficulty,
        as_of=as_of,
        kinds=dict(sorted(truth.kinds.items())),
    )


def _malformed_share(ctx: _Context) -> tuple[int, int]:
    """How many broken rows go to the CRM export and how many to the ticket stream."""
    return (ctx.malformed + 1) // 2, ctx.malformed // 2


def _pick_broken(ctx: _Context, candidates: list[int], n: int) -> set[int]:
    return set(ctx.rng.sample(candidates, min(n, len(candidates))))


# -- CRM ---------------------------------------------------------------------------------


def _write_crm(ctx: _Context) -> int:
    rng = ctx.rng
    rows = sorted((crm_id, acc, copy) for acc in ctx.accounts for copy, crm_id in enumerate(acc.crm_ids))
    plain = [i for i, (_, acc, _) in enumerate(rows) if acc.kind == "clean"]
    broken = _pick_broken(ctx, plain, _malformed_share(ctx)[0])
    strategic = rng.randrange(len(rows)) if rows else -1
    written = 0
    with (ctx.out_dir / FILES["crm"]).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CRM_HEADER)
        for i, (crm_id, acc, copy) in enumerate(rows):
            row = _crm_row(ctx, crm_id, acc, copy, strategic_tier=i == strategic)
            if i in broken:
                # A name with a comma written without quotes: one column too many.
                row[1] = f"{acc.brand}, {acc.suffix.replace(',', '')}"
                handle.write(",".join(v.replace(",", "") if j != 1 else v for j, v in enumerate(row)) + "\n")
                ctx.broken.append(
                    MalformedRecord("crm", FILES["crm"], i + 2, crm_id, "unquoted comma: one column too many")
                )
                continue
            writer.writerow(row)
            ctx.truth.add("crm", crm_id, acc, "duplicate" if acc.crm_copies > 1 else acc.kind)
            written += 1
    return written


def _crm_row(ctx: _Context, crm_id: str, acc: Account, copy: int, *, strategic_tier: bool) -> list[str]:
    rng, clean = ctx.rng, ctx.clean
    revenue = round(10 ** rng.uniform(5.3, 8.7), -3)
    tier = "Tier 1" if revenue >= 5e7 else "Tier 2" if revenue >= 5e6 else "Tier 3"
    if strategic_tier or (not clean and rng.random() < 0.008):
        tier = "Strategic"
    created = ctx.between(acc.created, ctx.end - DAY) if copy else acc.created
    messy = not clean and rng.random() < 0.05
    return [
        crm_id,
        forms.crm_duplicate_name(rng, acc) if copy else acc.legal_name,
        "" if messy else forms.website(rng, acc.web_domain, acc.website_path, clean),
        "" if not clean and rng.random() < 0.05 else forms.phone_text(rng, acc.country, acc.phone),
        acc.street,
        acc.city.name,
        forms.postcode_text(rng, acc.postcode, clean),
        forms.country_text(rng, acc.country, clean),
        "" if not clean and rng.random() < 0.05 else acc.industry,
        tier,
        "" if not clean and rng.random() < 0.08 else f"{revenue:.2f}",
        rng.choice(SALES_OWNERS),
        "true" if rng.random() < 0.55 else "false",
        forms.salesforce_time(created),
        forms.salesforce_time(ctx.between(created, ctx.end - 60)),
    ]


# -- Billing -----------------------------------------------------------------------------


def _write_billing(ctx: _Context) -> dict[str, int]:
    rng = ctx.rng
    prices = price_ids(ctx.reg)
    customers = [
        (ctx.between(a.created, min(a.created + 30 * DAY, ctx.end - 2 * DAY)), a) for a in ctx.accounts if a.in_billing
    ]
    customers.sort(key=lambda c: (-c[0], c[1].index))  # Stripe lists newest first
    stale: set[int] = set()
    if ctx.difficulty == "hard":
        plain = [a.index for _, a in customers if a.kind == "clean" and a.crm_ids]
        stale = set(rng.sample(plain, min(len(plain), max(1, round(len(customers) * 0.03)))))
    crm_ids = [i for a in ctx.accounts for i in a.crm_ids]
    xref_share = {"easy": 0.9, "default": 0.6, "hard": 0.55}[ctx.difficulty]

    n_subs = n_invoices = 0
    path = ctx.out_dir
    with (
        (path / FILES["billing_customers"]).open("w", encoding="utf-8", newline="\n") as cus_f,
        (path / FILES["billing_subscriptions"]).open("w", encoding="utf-8", newline="\n") as sub_f,
        (path / FILES["billing_invoices"]).open("w", encoding="utf-8", newline="\n") as inv_f,
    ):
        for created, acc in customers:
            cus_id = ctx.reg.fresh_id("cus_", 14)
            currency = acc.country.currency
            subs = list(subscriptions(rng, ctx.reg, ctx.end, cus_id, currency, created, prices))
            metadata: dict[str, str] = {}
            kind = acc.kind
            if acc.index in stale:
                kind = "stale_xref"
                other = rng.choice(crm_ids)
                if rng.random() < 0.5 or other in acc.crm_ids:
                    metadata["crm_account_id"] = ctx.reg.salesforce_id()  # since deleted
                else:
                    metadata["crm_account_id"] = other
            elif acc.crm_ids and acc.kind != "rebrand" and rng.random() < xref_share:
                metadata["crm_account_id"] = rng.choice(acc.crm_ids)
            customer = {
                "id": cus_id,
                "object": "customer",
                "name": forms.billing_name(rng, acc, ctx.clean),
                "email": _billing_email(ctx, acc),
                "phone": None if rng.random() < 0.2 else forms.phone_text(rng, acc.country, acc.phone),
                "address": {
                    "city": acc.city.name,
                    "country": acc.country.code,
                    "line1": acc.street if ctx.clean else forms.street_text(rng, acc.street),
                    "line2": None,
                    "postal_code": acc.postcode,
                    "state": None,
                },
                "created": created,
                "currency": currency,
                "delinquent": any(s["status"] == "past_due" for s, _ in subs),
                "metadata": metadata,
            }
            cus_f.write(_json(customer))
            ctx.truth.add("billing", cus_id, acc, kind)
            for sub, invoices in subs:
                sub_f.write(_json(sub))
                n_subs += 1
                for invoice in invoices:
                    inv_f.write(_json(invoice))
                    n_invoices += 1
    return {"billing_customers": len(customers), "billing_subscriptions": n_subs, "billing_invoices": n_invoices}


def _billing_email(ctx: _Context, acc: Account) -> str:
    domain = acc.billing_domain or acc.email_domain
    if acc.billing_domain is None and ctx.rng.random() < 0.3:
        return ctx.rng.choice(acc.people).email
    return f"{ctx.rng.choice(('billing', 'accounts', 'finance', 'invoices', 'ap'))}@{domain}"


def _json(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


# -- Support -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Ticket:
    created: int
    acc: Account
    person: Person
    email: str
    org: tuple[int, str] | None
    kind: str


def _write_support(ctx: _Context) -> int:
    rng = ctx.rng
    org_ids: dict[int, int] = {}

    def org(acc: Account) -> tuple[int, str]:
        if acc.index not in org_ids:
            org_ids[acc.index] = ctx.reg.fresh_int(360_000_000_000, 399_999_999_999)
        return org_ids[acc.index], forms.organization_name(rng, acc)

    free_share = 0.05 if ctx.clean else 0.15
    tickets: list[_Ticket] = []
    for acc in ctx.accounts:
        if not acc.in_support:
            continue
        for _ in range(rng.choices(range(1, 9), weights=(30, 25, 15, 10, 8, 5, 4, 3))[0]):
            person = rng.choice(acc.people)
            created = ctx.between(acc.created, ctx.end - 3600)
            if rng.random() < free_share:
                email = free_mail_address(rng, ctx.reg, person)
                if ctx.clean or rng.random() < 0.5:
                    tickets.append(_Ticket(created, acc, person, email, org(acc), "free_mail"))
                else:
                    tickets.append(_Ticket(created, acc, person, email, None, "free_mail_no_org"))
                continue
            email = person.email
            if not ctx.clean and rng.random() < 0.05:
                email = forms.mangle_case(email)
            owner = org(acc) if ctx.clean or rng.random() < 0.85 else None
            tickets.append(_Ticket(created, acc, person, email, owner, acc.kind))
    if ctx.difficulty == "hard":
        tickets.extend(_contractor_tickets(ctx, org))
    tickets.sort(key=lambda t: (t.created, t.acc.index, t.email))

    plain = [i for i, t in enumerate(tickets) if t.kind == "clean"]
    broken = _pick_broken(ctx, plain, _malformed_share(ctx)[1])
    written = 0
    with (ctx.out_dir / FILES["support"]).open("w", encoding="utf-8", newline="\n") as handle:
        for i, ticket in enumerate(tickets):
            ticket_id = i + 1
            line = _json(_ticket_json(ctx, ticket_id, ticket))
            if i in broken:
                handle.write(line[: len(line) * 3 // 5] + "\n")
                ctx.broken.append(
                    MalformedRecord("support", FILES["support"], i + 1, str(ticket_id), "truncated JSON line")
                )
                continue
            handle.write(line)
            if ticket.kind == "free_mail_no_org":
                ctx.truth.defer("support", ticket_id, ticket.acc, ticket.kind, ticket.email, ticket.person.name)
            else:
                ctx.truth.placed_emails.add(ticket.email.strip().lower())
                ctx.truth.add("support", ticket_id, ticket.acc, ticket.kind)
            written += 1
    return written


def _contractor_tickets(ctx: _Context, org: Callable[[Account], tuple[int, str]]) -> Iterator[_Ticket]:
    """Tickets by a customer's contractor, written from the client's email domain."""
    rng = ctx.rng
    active = [a for a in ctx.accounts if a.in_support]
    for acc in rng.sample(active, min(len(active), max(1, round(len(active) * 0.02)))):
        clients = [a for a in ctx.accounts if a.email_domain != acc.email_domain]
        if not clients:
            return
        client = rng.choice(clients)
        person = outsider(rng, ctx.reg, acc.country.culture, client.email_domain)
        for _ in range(rng.randint(1, 2)):
            created = ctx.between(acc.created, ctx.end - 3600)
            yield _Ticket(created, acc, person, person.email, org(acc), "contractor")


def _ticket_json(ctx: _Context, ticket_id: int, t: _Ticket) -> dict[str, Any]:
    rng = ctx.rng
    age = ctx.end - t.created
    if age > 21 * DAY:
        status = rng.choices(("solved", "closed", "open", "pending", "hold"), weights=(35, 55, 5, 3, 2))[0]
    else:
        status = rng.choices(("new", "open", "pending", "hold", "solved"), weights=(20, 30, 15, 5, 30))[0]
    updated = ctx.between(t.created, min(ctx.end - 60, t.created + 10 * DAY))
    if status == "closed":
        updated = min(ctx.end - 60, updated + 4 * DAY)
    if status in ("solved", "closed"):
        score = rng.choices(("good", "bad", "offered", "unoffered"), weights=(55, 10, 20, 15))[0]
    else:
        score = "unoffered"
    return {
        "id": ticket_id,
        "subject": rng.choice(TICKET_SUBJECTS),
        "status": status,
        "priority": None if rng.random() < 0.1 else rng.choice(TICKET_PRIORITIES),
        "created_at": forms.iso_z(t.created),
        "updated_at": forms.iso_z(updated),
        "requester": {"id": t.person.zendesk_id, "name": t.person.name, "email": t.email},
        "organization": {"id": t.org[0], "name": t.org[1]} if t.org else None,
        "satisfaction_rating": {"score": score},
    }


# -- Product -----------------------------------------------------------------------------


@dataclass(slots=True)
class _User:
    created: int
    acc: Account
    person: Person
    email: str
    workspace: str
    seats: int
    rank: int
    role: str
    kind: str


def _write_product(ctx: _Context) -> int:
    rng = ctx.rng
    users: list[_User] = []
    for acc in ctx.accounts:
        if not acc.in_product:
            continue
        workspace = forms.workspace_name(rng, acc)
        n = rng.randint(1, min(8, len(acc.people)))
        seats = n + rng.randint(0, 15)
        for k, person in enumerate(acc.people[:n]):
            role = "owner" if k == 0 else rng.choices(("admin", "member", "viewer"), weights=(2, 6, 2))[0]
            kind, email = acc.kind, person.email
            if rng.random() < (0.02 if ctx.clean else 0.05):
                kind, email = "free_mail", free_mail_address(rng, ctx.reg, person)
            elif not ctx.clean and rng.random() < 0.03:
                email = forms.mangle_case(email)
            created = ctx.between(acc.created, ctx.end - DAY)
            users.append(_User(created, acc, person, email, workspace, seats, k, role, kind))
    users.sort(key=lambda u: (u.created, u.acc.index, u.rank))

    path = ctx.out_dir / FILES["product"]
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    try:
        db.execute(
            "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT, full_name TEXT, "
            "workspace TEXT, role TEXT, seats INTEGER, created_at TEXT, last_login_at TEXT, "
            "updated_at TEXT, deleted_at TEXT)"
        )
        rows = []
        for i, user in enumerate(users):
            created, acc = user.created, user.acc
            last_login = None if rng.random() < 0.06 else ctx.between(created, ctx.end - 60)
            deleted = ctx.between(created, ctx.end - 60) if rng.random() < 0.03 else None
            if deleted is not None and last_login is not None:
                last_login = min(last_login, deleted)
            updated = max(created, last_login or 0, deleted or 0)
            full_name = None if rng.random() < 0.03 else user.person.name
            if full_name and deleted is None:
                ctx.truth.placed_names.add((acc.number, full_name.strip().lower()))
            rows.append(
                (
                    i + 1,
                    user.email,
                    full_name,
                    user.workspace,
                    user.role,
                    user.seats,
                    forms.iso_z(created),
                    None if last_login is None else forms.iso_local(rng, last_login, acc.city, acc.country.dst),
                    forms.iso_z(updated),
                    None if deleted is None else forms.iso_z(deleted),
                )
            )
            ctx.truth.add("product", i + 1, acc, user.kind)
            if deleted is None:
                ctx.truth.placed_emails.add(user.email.strip().lower())
        db.executemany("INSERT INTO users VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        db.commit()
    finally:
        db.close()
    return len(users)
