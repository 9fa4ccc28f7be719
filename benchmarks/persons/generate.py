#!/usr/bin/env python3
"""persons: a seeded person-grain (B2C) entity-resolution benchmark, six consumer systems.

Generates N true people and the records six consumer-facing systems hold about them, in
the systems' own export shapes: a Shopify customers export, a mobile app's users table, a
Mailchimp audience export, a retail loyalty scheme, Zendesk end-users and HubSpot contacts.
Every record belongs to exactly one true person (truth.csv). Hard cases are planted and
tagged (hard_cases.csv); see README.md for each kind and how the truth treats it.

Usage:
  python generate.py [--people 20000] [--seed 8101] [--out DIR]
  (--out defaults to <tempdir>/c360-persons/<seed>)

Output (DIR):
  shop_customers.csv       Shopify customers export            key: Customer ID
  app_users.jsonl          mobile app users table, one JSON/line key: id (uuid)
  newsletter_members.csv   Mailchimp audience export            key: LEID
  loyalty_cards.csv        retail loyalty scheme cards          key: card_number
  support_contacts.jsonl   Zendesk users (end-users)            key: id
  crm_contacts.csv         HubSpot contacts (internal names)    key: hs_object_id
  truth.csv                source,source_key,true_person_id (one row per record above)
  hard_cases.csv           source,source_key,true_person_id,kind,group_id
  stats.json               counts, pairs, kinds (negative/positive), negative-group pairs, recall ceiling,
                           sha256s
The system under test reads the six source files only.

Modules: names.py (name/place/provider pools), textkit.py (constants, text and phone helpers),
render_sources.py (how each system renders a record), evidence.py (evidence parsed back from the rows,
recall ceiling); baselines.py and score.py are the reference baselines and the scorer.

Deterministic: same --people/--seed and Faker version -> byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import random
import re
import sys
import tempfile
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import faker as faker_pkg
import phonenumbers
from faker import Faker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evidence import features, norm_email, phones_in_row, recall_ceiling
from names import (
    CITIES,
    COUNTRIES,
    FREEMAIL,
    GIVEN,
    MAILBOX_LOCAL,
    NICKNAMES,
    PL_SURNAMES,
    RU_GIVEN,
    RU_SURNAMES,
    SURNAMES,
    TLD,
    TRADE,
)
from render_sources import Renderer
from textkit import (
    CC_CODE,
    DUP_RATE,
    FILES,
    N_SYSTEMS,
    NOW,
    PHONE_GEN,
    PHONE_SOURCES,
    SOURCES,
    SYS_WEIGHT,
    WINDOW_START,
    de_fold,
    gendered,
    is_ascii,
    luhn_digit,
    strip_accents,
    translit,
    wchoice,
    zipf_choice,
)

GENERATOR_VERSION = "persons-1"


# ----------------------------------------------------------------------------------------
# model
# ----------------------------------------------------------------------------------------
@dataclass
class Addr:
    line: str
    line2: str
    postcode: str
    city: str  # canonical
    city_variants: list
    state: str
    cc: str


@dataclass
class Person:
    pid: str
    cc: str
    origin: str
    gender: str
    given: str
    surname: str
    dob: date
    addr: Addr
    surname2: str = ""  # ES second surname
    given_cyr: str = ""
    surname_cyr: str = ""
    nick: str = ""
    suffix: str = ""  # Jr / Sr
    mobile: str = ""
    landline: str = ""
    email: str = ""
    email2: str = ""  # a second personal address
    work_email: str = ""
    family_mailbox: str = ""  # household / twins mailbox
    shared_mailbox: str = ""  # unrelated-people mailbox (shared_mailbox groups)
    mailbox_p: float = 0.0
    maiden: str = ""
    married_at: datetime | None = None
    addr_old: Addr | None = None
    landline_old: str = ""
    moved_at: datetime | None = None
    email_old: str = ""
    email_changed_at: datetime | None = None
    mobile_old: str = ""
    mobile_changed_at: datetime | None = None
    groups: list = field(default_factory=list)  # [(kind, group_id)]
    loyalty_boost: float = 1.0
    force: list = field(default_factory=list)  # systems that must be present
    records: list = field(default_factory=list)


@dataclass
class Rec:
    src: str
    p: Person
    t: datetime
    dup: int = 0
    key: str = ""
    row: dict = None
    tags: list = field(default_factory=list)  # [(kind, group_id)]
    force_phone: bool = False
    force_mailbox: bool = False
    cc: str = ""


class Gen(Renderer):
    def __init__(self, n_people: int, seed: int):
        self.n = n_people
        self.seed = seed
        self.rng = random.Random(seed)
        self.fk = {}
        for i, (cc, (_, loc, _)) in enumerate(COUNTRIES.items()):
            f = Faker(loc)
            f.seed_instance(seed * 101 + i)
            self.fk[cc] = f
        self.people: list[Person] = []
        self.used_emails: set = set()
        self.used_phones: set = set()
        self.group_seq = Counter()
        self.groups = []  # (kind, gid, [Person])

    # --- basic draws ------------------------------------------------------------------
    def pick_cc(self):
        return wchoice(self.rng, [(cc, w) for cc, (w, _, _) in COUNTRIES.items()])

    def pid(self, i):
        return "P" + hashlib.sha256(f"{GENERATOR_VERSION}|{self.seed}|{i}".encode()).hexdigest()[:11]

    def draw_given(self, origin, gender):
        r = self.rng
        if origin == "RU":
            return r.choice(RU_GIVEN[0 if gender == "M" else 1])
        share = COUNTRIES[origin][2]
        if r.random() < share:
            return zipf_choice(r, GIVEN[origin][0 if gender == "M" else 1], 0.7)
        f = self.fk[origin]
        return f.first_name_male() if gender == "M" else f.first_name_female()

    def draw_surname(self, origin, gender):
        r = self.rng
        if origin == "RU":
            m, f_ = r.choice(RU_SURNAMES)
            return m if gender == "M" else f_
        if origin == "PL":
            if r.random() < COUNTRIES["PL"][2]:
                m, f_ = zipf_choice(r, PL_SURNAMES, 0.7)
                return m if gender == "M" else f_
            f = self.fk["PL"]
            return f.last_name_male() if gender == "M" else f.last_name_female()
        if r.random() < COUNTRIES[origin][2]:
            return zipf_choice(r, SURNAMES[origin], 0.8)
        return self.fk[origin].last_name()

    def new_phone(self, cc, kind):
        for _ in range(60):
            nsn = PHONE_GEN[cc][kind](self.rng)
            e = "+" + CC_CODE[cc] + nsn
            if e in self.used_phones:
                continue
            if phonenumbers.is_valid_number(phonenumbers.parse(e)):
                self.used_phones.add(e)
                return e
        raise RuntimeError(f"no valid phone for {cc} {kind}")

    def new_addr(self, cc, city=None):
        r, f = self.rng, self.fk[cc]
        if city is None:
            city = wchoice(r, [(c, c[2]) for c in CITIES[cc]])
        if cc == "TR":
            street = r.choice(
                [
                    "Atatürk",
                    "Cumhuriyet",
                    "İnönü",
                    "Gazi",
                    "Fevzi Çakmak",
                    "Mimar Sinan",
                    "Barbaros",
                    "Bağdat",
                    "Kazım Karabekir",
                    "Millet",
                ]
            )
            line = f"{street} {r.choice(['Cad.', 'Sok.', 'Bulvarı', 'Caddesi', 'Sokak'])} No:{r.randint(1, 180)}"
        elif cc == "GB":
            line = f"{r.randint(1, 240)} {f.street_name()}"
        elif cc == "US":
            line = f"{r.randint(10, 9999)} {f.street_name()}"
        else:
            line = re.sub(r"\s+", " ", f.street_address().replace("\n", " ")).strip()
        line2 = ""
        if r.random() < 0.14:
            line2 = {
                "GB": f"Flat {r.randint(1, 40)}",
                "US": f"Apt {r.randint(1, 30)}{r.choice('ABCD')}",
                "DE": f"{r.randint(1, 5)}. OG",
                "FR": f"Bât. {r.choice('ABC')}",
                "PL": f"m. {r.randint(1, 80)}",
                "ES": f"{r.randint(1, 9)}º {r.choice('ABCD')}",
                "TR": f"D:{r.randint(1, 20)}",
                "NL": f"{r.choice(['A', 'B', 'bis', 'hs'])}",
                "DK": f"{r.randint(1, 5)}. {r.choice(['th', 'tv', 'mf'])}",
            }[cc]
        pc = f.postcode()
        if cc == "NL":
            pc = pc[:4] + " " + pc[4:] if " " not in pc else pc
        return Addr(line, line2, pc, city[0], list(city[1]), city[3] if len(city) > 3 else "", cc)

    def make_email(self, given, surname, dob, cc, domain=None, digits_p=0.35):
        r = self.rng
        g = re.sub(r"[^a-z]", "", (de_fold if r.random() < 0.4 else strip_accents)(given.split(" ")[0]).lower())
        s = re.sub(r"[^a-z]", "", (de_fold if r.random() < 0.4 else strip_accents)(surname.split(" ")[-1]).lower())
        if not g:
            g = "user"
        if not s:
            s = "x"
        yy = f"{dob.year % 100:02d}"
        pat = wchoice(
            r,
            [
                ("g.s", 24),
                ("gs", 14),
                ("g_s", 5),
                ("gi.s", 8),
                ("gsi", 4),
                ("s.g", 6),
                ("g", 4),
                ("gyy", 8),
                ("g.syy", 8),
                ("gsn", 9),
                ("s", 3),
                ("gin", 3),
                ("g-s", 4),
            ],
        )
        n = str(r.randint(1, 999))
        local = {
            "g.s": f"{g}.{s}",
            "gs": g + s,
            "g_s": f"{g}_{s}",
            "gi.s": f"{g[0]}.{s}",
            "gsi": f"{g}{s[0]}",
            "s.g": f"{s}.{g}",
            "g": g,
            "gyy": g + yy,
            "g.syy": f"{g}.{s}{yy}",
            "gsn": g + s + n,
            "s": s + n,
            "gin": g[0] + s + n,
            "g-s": f"{g}-{s}",
        }[pat]
        dom = domain or wchoice(r, FREEMAIL[cc])
        e = f"{local}@{dom}"
        k = 0
        while e in self.used_emails:
            k += 1
            e = f"{local}{r.randint(1, 9999) if k > 1 else r.randint(2, 99)}@{dom}"
        self.used_emails.add(e)
        return e

    def company_domain(self, cc):
        r = self.rng
        s = re.sub(r"[^a-z]", "", de_fold(self.draw_surname(cc if cc != "PL" else "PL", "M")).lower())
        sep = r.choice(["-", "", "-"])
        return f"{s}{sep}{r.choice(TRADE[cc])}.{TLD[cc] if r.random() < 0.7 else 'com'}"

    def new_person(
        self,
        cc=None,
        gender=None,
        age=(18, 86),
        origin=None,
        surname=None,
        given=None,
        dob=None,
        addr=None,
        landline=None,
    ):
        r = self.rng
        cc = cc or self.pick_cc()
        if origin is None:
            origin = cc
            x = r.random()
            if cc in ("DE", "GB", "PL", "US", "NL", "DK") and x < 0.03:
                origin = "RU"
            elif (cc == "DE" and x < 0.09) or (cc == "NL" and x < 0.06):
                origin = "TR"
            elif cc == "GB" and x < 0.07:
                origin = "PL"
            elif cc == "US" and x < 0.10:
                origin = "ES"
        gender = gender or r.choice("MF")
        p = Person(
            pid=self.pid(len(self.people)),
            cc=cc,
            origin=origin,
            gender=gender,
            given="",
            surname="",
            dob=date(2000, 1, 1),
            addr=None,
        )
        if origin == "RU":
            p.given_cyr = given if given and not is_ascii(given) else self.draw_given("RU", gender)
            p.surname_cyr = surname if surname and not is_ascii(surname) else self.draw_surname("RU", gender)
            p.given, p.surname = translit(p.given_cyr, "A"), translit(p.surname_cyr, "A")
        else:
            p.given = given or self.draw_given(origin, gender)
            p.surname = surname or self.draw_surname(origin, gender)
            if origin == "ES" and not surname:
                p.surname2 = self.draw_surname("ES", gender)
        if dob is None:
            a = r.uniform(*age)
            dob = (NOW - timedelta(days=a * 365.25)).date()
        p.dob = dob
        p.addr = addr or self.new_addr(cc)
        nk = NICKNAMES.get(p.given) or NICKNAMES.get(p.given.split(" ")[0]) if p.given else None
        if nk and r.random() < 0.45:
            p.nick = r.choice(nk)
        if r.random() < 0.92:
            p.mobile = self.new_phone(cc, "mobile")
        if landline is not None:
            p.landline = landline
        elif r.random() < 0.30:
            p.landline = self.new_phone(cc, "landline")
        p.email = self.make_email(p.nick if p.nick and r.random() < 0.3 else p.given, p.surname, p.dob, cc)
        if r.random() < 0.25:
            p.email2 = self.make_email(p.given, p.surname, p.dob, cc)
        if r.random() < 0.14:
            p.work_email = self.make_email(p.given, p.surname, p.dob, cc, domain=self.company_domain(cc))
        self.people.append(p)
        return p

    def group(self, kind, members):
        self.group_seq[kind] += 1
        gid = {
            "household": "hh",
            "twins": "tw",
            "father_son": "fs",
            "namesakes_city": "nc",
            "shared_mailbox": "sm",
            "recycled_phone": "rp",
        }[kind] + f"{self.group_seq[kind]:04d}"
        for m in members:
            m.groups.append((kind, gid))
        self.groups.append((kind, gid, members))
        return gid

    def family_mailbox(self, members, cc):
        r = self.rng
        s = re.sub(r"[^a-z]", "", strip_accents(members[0].surname.split(" ")[-1]).lower()) or "family"
        g1 = re.sub(r"[^a-z]", "", strip_accents(members[0].given.split(" ")[0]).lower())
        g2 = re.sub(r"[^a-z]", "", strip_accents(members[1].given.split(" ")[0]).lower())
        local = r.choice(
            [
                f"{s}family",
                f"the{s}s",
                f"{g1}and{g2}",
                f"{g1}.{g2}",
                f"familie.{s}",
                f"{s}.home",
                f"{s}{r.randint(1, 99)}",
            ]
        )
        e = f"{local}@{wchoice(r, FREEMAIL[cc])}"
        while e in self.used_emails:
            e = f"{local}{r.randint(1, 999)}@{wchoice(r, FREEMAIL[cc])}"
        self.used_emails.add(e)
        return e

    # --- planted groups ---------------------------------------------------------------
    def make_household(self):
        r = self.rng
        cc = self.pick_cc()
        size = wchoice(r, [(2, 45), (3, 28), (4, 18), (5, 9)])
        flat = r.random() < 0.15
        addr = self.new_addr(cc)
        land = self.new_phone(cc, "landline")
        lead = self.new_person(cc=cc, age=(40, 75) if size > 2 and not flat else (22, 80), addr=addr, landline=land)
        members = [lead]
        for k in range(1, size):
            if flat:
                m = self.new_person(cc=cc, age=(20, 35), addr=addr, landline=land)
            elif k == 1:
                same = r.random() < 0.75
                la = (NOW.date() - lead.dob).days / 365.25
                g = "F" if lead.gender == "M" else "M"
                sur = lead.surname if same else None
                if same and lead.origin == "PL":  # feminine form
                    sur = gendered(PL_SURNAMES, lead.surname, g)
                if same and lead.origin == "RU":
                    sur = gendered(RU_SURNAMES, lead.surname_cyr, g)
                m = self.new_person(
                    cc=cc,
                    gender=g,
                    age=(max(18, la - 6), la + 6),
                    origin=lead.origin,
                    surname=sur,
                    addr=addr,
                    landline=land,
                )
                if same and lead.surname2:
                    m.surname2 = r.choice([lead.surname2, m.surname2])
            else:
                la = (NOW.date() - lead.dob).days / 365.25
                g = r.choice("MF")
                sur = lead.surname
                if lead.origin == "PL":
                    sur = gendered(PL_SURNAMES, lead.surname, g)
                if lead.origin == "RU":
                    sur = gendered(RU_SURNAMES, lead.surname_cyr, g)
                m = self.new_person(
                    cc=cc,
                    gender=g,
                    age=(18, max(19, la - 20)),
                    origin=lead.origin,
                    surname=sur,
                    addr=addr,
                    landline=land,
                )
                if lead.surname2:
                    m.surname2 = lead.surname2
            members.append(m)
        if r.random() < 0.30:
            mb = self.family_mailbox(members, cc)
            for m in members:
                m.family_mailbox, m.mailbox_p = mb, 0.4
        for m in members:
            m.loyalty_boost = 2.5
        self.group("household", members)

    def make_twins(self):
        r = self.rng
        cc = self.pick_cc()
        addr = self.new_addr(cc)
        land = self.new_phone(cc, "landline") if r.random() < 0.8 else ""
        a = self.new_person(cc=cc, age=(18, 60), addr=addr, landline=land)
        g = r.choice([a.gender, a.gender, "M" if a.gender == "F" else "F"])
        sur = a.surname_cyr if a.origin == "RU" else a.surname
        if a.origin == "PL" and g != a.gender:
            sur = gendered(PL_SURNAMES, a.surname, g)
        given = None
        if r.random() < 0.35 and a.origin != "RU":  # same initial: Anna / Anja, Michael / Mark
            pool = [x for x in GIVEN[a.origin][0 if g == "M" else 1] if x[0] == a.given[0] and x != a.given]
            given = r.choice(pool) if pool else None
        for _ in range(10):
            b = self.new_person(
                cc=cc, gender=g, origin=a.origin, surname=sur, given=given, dob=a.dob, addr=addr, landline=land
            )
            if b.given != a.given:
                break
            self.people.pop()
            given = None
        else:  # ten draws gave the twin the same given name: no twin, a keeps the flat
            return
        b.surname2 = a.surname2
        if r.random() < 0.2:
            mb = self.family_mailbox([a, b], cc)
            a.family_mailbox = b.family_mailbox = mb
            a.mailbox_p = b.mailbox_p = 0.4
        a.loyalty_boost = b.loyalty_boost = 2.0
        self.group("twins", [a, b])

    def make_father_son(self):
        r = self.rng
        cc = self.pick_cc()
        addr = self.new_addr(cc)
        land = self.new_phone(cc, "landline") if r.random() < 0.85 else ""
        f = self.new_person(cc=cc, gender="M", age=(50, 82), addr=addr, landline=land)
        gap = r.uniform(25, 35)
        sdob = f.dob + timedelta(days=int(gap * 365.25))
        if (NOW.date() - sdob).days < 18 * 365:
            sdob = NOW.date() - timedelta(days=int(r.uniform(18, 22) * 365.25))
        s = self.new_person(
            cc=cc,
            gender="M",
            origin=f.origin,
            surname=f.surname_cyr or f.surname,
            given=f.given_cyr or f.given,
            dob=sdob,
            addr=addr,
            landline=land,
        )
        s.surname2 = f.surname2 if r.random() < 0.5 else s.surname2
        s.nick = f.nick if r.random() < 0.5 else s.nick
        if cc in ("GB", "US"):
            s.suffix, f.suffix = "Jr", "Sr"
        f.loyalty_boost = s.loyalty_boost = 2.0
        self.group("father_son", [f, s])

    def make_namesakes(self):
        r = self.rng
        cc = wchoice(r, [(c, w) for c, (w, _, _) in COUNTRIES.items()])
        g = r.choice("MF")
        given = r.choice(GIVEN[cc][0 if g == "M" else 1][:6])
        if cc == "PL":
            m_, f_ = r.choice(PL_SURNAMES[:5])
            sur = m_ if g == "M" else f_
        else:
            sur = r.choice(SURNAMES[cc][:5])
        city = wchoice(r, [(c, c[2]) for c in CITIES[cc]])
        size = wchoice(r, [(2, 60), (3, 30), (4, 10)])
        members = []
        s2 = self.draw_surname("ES", g) if cc == "ES" else ""
        for _ in range(size):
            m = self.new_person(cc=cc, gender=g, origin=cc, surname=sur, given=given, addr=self.new_addr(cc, city))
            if cc == "ES":
                m.surname2 = s2 if r.random() < 0.5 else m.surname2
            members.append(m)
        self.group("namesakes_city", members)

    def make_shared_mailbox(self):
        r = self.rng
        cc = self.pick_cc()
        city = wchoice(r, [(c, c[2]) for c in CITIES[cc]])
        dom = self.company_domain(cc)
        mb = f"{r.choice(MAILBOX_LOCAL)}@{dom}"
        while mb in self.used_emails:
            mb = f"{r.choice(MAILBOX_LOCAL)}{r.randint(1, 9)}@{dom}"
        self.used_emails.add(mb)
        size = wchoice(r, [(3, 40), (4, 30), (5, 20), (6, 10)])
        members = [self.new_person(cc=cc, age=(20, 65), addr=self.new_addr(cc, city)) for _ in range(size)]
        for m in members:
            m.shared_mailbox, m.mailbox_p = mb, 0.6
        self.group("shared_mailbox", members)

    def make_recycled_phone(self):
        cc = self.pick_cc()
        a = self.new_person(cc=cc)
        b = self.new_person(cc=cc)
        if not a.mobile:
            a.mobile = self.new_phone(cc, "mobile")
        if not b.mobile:
            b.mobile = self.new_phone(cc, "mobile")
        a.force.append("phone")
        b.force.append("phone")
        self.group("recycled_phone", [a, b])

    # --- build ------------------------------------------------------------------------
    def build_people(self):
        r = self.rng
        n = self.n
        scale = n / 20000
        plan = (
            [self.make_household] * round(330 * scale)
            + [self.make_twins] * round(70 * scale)
            + [self.make_father_son] * round(90 * scale)
            + [self.make_namesakes] * round(110 * scale)
            + [self.make_shared_mailbox] * round(60 * scale)
            + [self.make_recycled_phone] * round(150 * scale)
        )
        r.shuffle(plan)
        for fn in plan:
            if len(self.people) >= n:
                break
            fn()
        while len(self.people) < n:
            self.new_person()
        del self.people[n:]
        # life events
        grouped = lambda p: any(k in ("household", "twins", "father_son") for k, _ in p.groups)  # noqa: E731
        for p in self.people:
            age = (NOW.date() - p.dob).days / 365.25
            if not grouped(p) and r.random() < 0.09:
                p.addr_old = self.new_addr(p.cc)
                if p.landline:
                    p.landline_old = self.new_phone(p.cc, "landline")
                p.moved_at = NOW  # placeholder: set from record times later
            if (
                p.gender == "F"
                and 25 <= age <= 65
                and p.origin not in ("RU", "ES")
                and not p.groups
                and r.random() < 0.08
            ):
                p.maiden = self.draw_surname(p.origin, "F")
                if p.maiden != p.surname:
                    p.married_at = NOW
                    if r.random() < 0.55:  # old mailbox carries the maiden name; new one the married name
                        p.email_old = self.make_email(p.given, p.maiden, p.dob, p.cc)
                        p.email_changed_at = NOW
                else:
                    p.maiden = ""
            if not p.email_old and r.random() < 0.07:
                p.email_old = self.make_email(p.given, p.surname, p.dob, p.cc)
                p.email_changed_at = NOW
            if "phone" not in p.force and p.mobile and r.random() < 0.06:
                p.mobile_old = self.new_phone(p.cc, "mobile")
                p.mobile_changed_at = NOW

    def assign_records(self):
        r = self.rng
        for p in self.people:
            k = wchoice(r, N_SYSTEMS)
            w = dict(SYS_WEIGHT)
            w["loyalty"] *= p.loyalty_boost
            if p.cc == "US":
                w["loyalty"] = 0.0
            if p.shared_mailbox:
                w["newsletter"] *= 0.3
            chosen = []
            if "phone" in p.force:
                chosen.append(wchoice(r, [(s, w[s]) for s in PHONE_SOURCES if w[s] > 0]))
            while len(chosen) < k and any(w[s] > 0 and s not in chosen for s in SOURCES):
                chosen.append(wchoice(r, [(s, w[s]) for s in SOURCES if s not in chosen and w[s] > 0]))
            for s in SOURCES:  # keep a fixed order
                if s not in chosen:
                    continue
                cnt = 1 + (r.random() < DUP_RATE[s]) + (r.random() < DUP_RATE[s] * 0.15)
                start = datetime(WINDOW_START[s], 1, 1, tzinfo=UTC)
                birth18 = datetime(p.dob.year + 16, 1, 1, tzinfo=UTC)
                start = max(start, birth18) if birth18 < NOW - timedelta(days=60) else NOW - timedelta(days=60)
                span = (NOW - start).total_seconds()
                for d in range(cnt):
                    t = start + timedelta(seconds=r.random() * span)
                    p.records.append(Rec(src=s, p=p, t=t, dup=d))
        # event dates between the person's first and last record, so both states show
        for p in self.people:
            ts = sorted(rec.t for rec in p.records)
            for attr in ("moved_at", "married_at", "email_changed_at", "mobile_changed_at"):
                if getattr(p, attr) is None:
                    continue
                if len(ts) >= 2 and ts[-1] > ts[0]:
                    setattr(p, attr, ts[0] + (ts[-1] - ts[0]) * r.uniform(0.15, 0.85))
                else:
                    setattr(p, attr, NOW - timedelta(days=r.randint(30, 3000)))
        # recycled phone: A held the number until T, B holds it since T + a quarantine
        for _kind, _gid, (a, b) in [g for g in self.groups if g[0] == "recycled_phone"]:
            ra = [x for x in a.records if x.src in PHONE_SOURCES]
            rb = [x for x in b.records if x.src in PHONE_SOURCES]
            if not ra or not rb:
                continue
            ea, lb = min(ra, key=lambda x: x.t), max(rb, key=lambda x: x.t)
            if ea.t >= lb.t:
                a, b = b, a
                ra, rb = rb, ra
                ea, lb = min(ra, key=lambda x: x.t), max(rb, key=lambda x: x.t)
                if ea.t >= lb.t:
                    continue
            T = ea.t + (lb.t - ea.t) * r.uniform(0.2, 0.6)
            x_num = a.mobile
            a.mobile_old, a.mobile, a.mobile_changed_at = x_num, self.new_phone(a.cc, "mobile"), T
            b.mobile_old, b.mobile, b.mobile_changed_at = b.mobile, x_num, T + (lb.t - T) * 0.3
            ea.force_phone = lb.force_phone = True
        for p in self.people:
            if p.shared_mailbox:
                cand = [x for x in p.records if x.src != "newsletter"]
                if cand:
                    r.choice(cand).force_mailbox = True

    # --- render all, assign keys, cross-references -----------------------------------------
    def render(self):
        r = self.rng
        recs = [x for p in self.people for x in p.records]
        recs.sort(key=lambda x: (x.t, x.p.pid, x.src, x.dup))
        fn = {
            "shop": self.render_shop,
            "app": self.render_app,
            "newsletter": self.render_newsletter,
            "loyalty": self.render_loyalty,
            "support": self.render_support,
            "crm": self.render_crm,
        }
        for rec in recs:
            rec.row = fn[rec.src](rec)
        # Mailchimp: an address is a member at most once per audience (case-insensitive)
        seen = set()
        keep = []
        for rec in recs:
            if rec.src == "newsletter":
                k = rec.row["Email Address"].strip().lower()
                if k in seen:
                    rec.p.records.remove(rec)
                    continue
                seen.add(k)
            keep.append(rec)
        recs = keep
        by_src = defaultdict(list)
        for rec in recs:
            by_src[rec.src].append(rec)
        # keys (increasing with creation time, as the systems allocate them)
        k = 6_100_000_000_000 + r.randint(0, 10**9)
        for rec in by_src["shop"]:
            k += r.randint(1, 4_000_000)
            rec.key = str(k)
            rec.row["Customer ID"] = rec.key
        for rec in by_src["app"]:
            rec.key = str(uuid.UUID(int=r.getrandbits(128), version=4))
            rec.row["id"] = rec.key
        leids = r.sample(range(100_000_000, 999_999_999), len(by_src["newsletter"]))
        for rec, le in zip(by_src["newsletter"], leids, strict=True):
            rec.key = str(le)
            rec.row["LEID"] = rec.key
        base = 6338_0000_0000 // 10
        cards = sorted(r.sample(range(base, base + 9_999_999), len(by_src["loyalty"])))
        for rec, c in zip(by_src["loyalty"], cards, strict=True):
            s = str(c)
            rec.key = s + luhn_digit(s)
            rec.row["card_number"] = rec.key
        z = 360_012_000_000 + r.randint(0, 10**8)
        sub = "help-" + hashlib.sha256(str(self.seed).encode()).hexdigest()[:6]
        for rec in by_src["support"]:
            z += r.randint(1, 40_000)
            rec.key = str(z)
            rec.row["id"] = z
            rec.row["url"] = f"https://{sub}.zendesk.com/api/v2/users/{z}.json"
        h = 51
        for rec in by_src["crm"]:
            h += r.randint(1, 300)
            rec.key = str(h)
            rec.row["hs_object_id"] = rec.key
        # foreign keys: app users linked to their Shopify customer; Zendesk external_id = app user id;
        # Zendesk user field with the loyalty card number
        household_of = {m.pid: ms for k_, _, ms in self.groups if k_ == "household" for m in ms}
        for rec in by_src["app"]:
            p = rec.p
            shops = [x for x in p.records if x.src == "shop"]
            hh = [m for m in household_of.get(p.pid, []) if m is not p]
            if shops and r.random() < 0.35:
                if hh and r.random() < 0.10:  # the family shares one Shopify login
                    other = [x for m in hh for x in m.records if x.src == "shop"]
                    if other:
                        target = r.choice(other)
                        rec.row["shop_customer_id"] = target.key
                        self.tag(rec, "shared_account_fk", dict(p.groups)["household"])
                        self.tag(target, "shared_account_fk", dict(p.groups)["household"])
                        continue
                rec.row["shop_customer_id"] = r.choice(shops).key
            elif shops and r.random() < 0.03:
                rec.row["shop_customer_id"] = str(6_000_000_000_000 + r.randint(0, 10**11))
                self.tag(rec, "stale_fk")
        for rec in by_src["support"]:
            p = rec.p
            apps = [x for x in p.records if x.src == "app"]
            if apps and "name_only" not in [k_ for k_, _ in rec.tags] and r.random() < 0.40:
                rec.row["external_id"] = r.choice(apps).key
            cards_ = [x for x in p.records if x.src == "loyalty"]
            if cards_ and r.random() < 0.12:
                rec.row["user_fields"]["loyalty_card"] = r.choice(cards_).key
        self.recs = recs
        self.by_src = by_src

    def finalise_tags(self):
        """Old-state tags count only if the person also has a record in the new state; group tags."""
        for p in self.people:
            kinds = Counter(k for x in p.records for k, _ in x.tags)
            for x in p.records:
                new = []
                for k, g in x.tags:
                    if k == "moved_old":  # only if another record shows the current address
                        if kinds["addr_new"]:
                            new.append(("moved", ""))
                    elif k == "addr_new":
                        continue
                    elif k == "marriage_name_change_old":
                        if kinds["marriage_name_change_old"] < len(p.records):
                            new.append(("marriage_name_change", ""))
                    elif k == "email_changed_old":
                        new.append(("email_changed", ""))
                    else:
                        new.append((k, g))
                x.tags = new
            for kind, gid in p.groups:
                if kind in ("household", "twins", "father_son", "namesakes_city"):
                    for x in p.records:
                        if (kind, gid) not in x.tags:
                            x.tags.append((kind, gid))
        # recycled phone: tag the records that carry the reassigned number
        for kind, gid, ms in self.groups:
            if kind != "recycled_phone":
                continue
            a, b = ms
            num = a.mobile_old if a.mobile_old == b.mobile else b.mobile_old if b.mobile_old == a.mobile else None
            if not num:
                continue
            for m in ms:
                for x in m.records:
                    if num in phones_in_row(x.src, x.row, x.p.cc):
                        x.tags.append(("recycled_phone", gid))
        # mailboxes: tag the records whose row really holds the shared / family address (a render
        # step may have replaced or mangled the address after it was picked)
        for p in self.people:
            gids = dict(p.groups)
            for mb, kind, gid in (
                (p.shared_mailbox, "shared_mailbox", gids.get("shared_mailbox")),
                (p.family_mailbox, "family_mailbox", gids.get("household", gids.get("twins"))),
            ):
                if not mb or not gid:
                    continue
                key = norm_email(mb)
                for x in p.records:
                    x.tags = [t for t in x.tags if t[0] != kind]
                    if key in features(x.src, x.row)["emails"]:
                        x.tags.append((kind, gid))


# ----------------------------------------------------------------------------------------
# output
# ----------------------------------------------------------------------------------------
def write_csv(path: Path, rows: list, cols: list) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n", extrasaction="raise")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    data = buf.getvalue().encode("utf-8")
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def write_jsonl(path: Path, rows: list) -> str:
    data = "".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")) + "\n" for o in rows).encode("utf-8")
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


# kinds whose groups hold DISTINCT people who look alike (the rest are the same person under variation)
NEGATIVE_KINDS = [
    "household",
    "family_mailbox",
    "twins",
    "father_son",
    "namesakes_city",
    "shared_mailbox",
    "recycled_phone",
    "shared_account_fk",
    "placeholder",
]


def pairs(n):
    return n * (n - 1) // 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--people", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=8101)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = Path(a.out or Path(tempfile.gettempdir()) / "c360-persons" / str(a.seed))
    out.mkdir(parents=True, exist_ok=True)
    g = Gen(a.people, a.seed)
    g.build_people()
    g.assign_records()
    g.render()
    g.finalise_tags()
    files = {}
    cols = {s: list(g.by_src[s][0].row.keys()) for s in ("shop", "newsletter", "loyalty", "crm")}
    for s in SOURCES:
        rows = [x.row for x in sorted(g.by_src[s], key=lambda x: int(x.key) if x.key.isdigit() else 0)]
        if s == "app":
            rows = [x.row for x in g.by_src[s]]  # table order = signup order
        path = out / FILES[s]
        files[FILES[s]] = write_jsonl(path, rows) if path.suffix == ".jsonl" else write_csv(path, rows, cols[s])
    truth = sorted((x.src, x.key, x.p.pid) for x in g.recs)
    tcols = ["source", "source_key", "true_person_id"]
    files["truth.csv"] = write_csv(out / "truth.csv", [dict(zip(tcols, t, strict=True)) for t in truth], tcols)
    hard = sorted({(x.src, x.key, x.p.pid, k, gid) for x in g.recs for k, gid in x.tags})
    hcols = ["source", "source_key", "true_person_id", "kind", "group_id"]
    files["hard_cases.csv"] = write_csv(out / "hard_cases.csv", [dict(zip(hcols, h, strict=True)) for h in hard], hcols)
    # ---- stats
    per_person = defaultdict(list)
    for x in g.recs:
        per_person[x.p.pid].append(x.src)
    nsys = Counter(len(set(v)) for v in per_person.values())
    true_pairs = sum(pairs(len(v)) for v in per_person.values())
    sp = Counter()
    for v in per_person.values():
        c = Counter(v)
        for i, s in enumerate(SOURCES):
            if c[s] > 1:
                sp[f"{s}|{s}"] += pairs(c[s])
            for t in SOURCES[i + 1 :]:
                if c[s] and c[t]:
                    sp[f"{s}|{t}"] += c[s] * c[t]
    kind_records = Counter(k for _, _, _, k, _ in hard)
    kind_people = {k: len({pid for _, _, pid, kk, _ in hard if kk == k}) for k in kind_records}
    neg = {}
    for kind in NEGATIVE_KINDS:
        grp = defaultdict(list)
        for _s, _key, pid, k, gid in hard:
            if k == kind:
                grp[gid].append(pid)
        cross = sum(pairs(len(v)) - sum(pairs(c) for c in Counter(v).values()) for v in grp.values())
        neg[kind] = {
            "groups": sum(1 for v in grp.values() if len(set(v)) > 1),
            "records": sum(len(v) for v in grp.values()),
            "cross_person_pairs": cross,
        }
    ceiling = recall_ceiling(g.recs)
    stats = {
        "generator": GENERATOR_VERSION,
        "faker_version": faker_pkg.VERSION,
        "seed": a.seed,
        "people": a.people,
        "records": len(g.recs),
        "records_per_source": {s: len(g.by_src[s]) for s in SOURCES},
        "people_per_number_of_systems": {str(k): nsys[k] for k in sorted(nsys)},
        "true_pairs": true_pairs,
        "true_pairs_cross_source": true_pairs - sum(v for k, v in sp.items() if k.split("|")[0] == k.split("|")[1]),
        "true_pairs_per_source_pair": dict(sorted(sp.items())),
        "kinds_records": dict(sorted(kind_records.items())),
        "kinds_people": dict(sorted(kind_people.items())),
        "negative_kinds": NEGATIVE_KINDS,
        "positive_kinds": sorted(k for k in kind_records if k not in NEGATIVE_KINDS),
        "negative_groups": neg,
        "recall_ceiling": ceiling,
        "files_sha256": files,
    }
    (out / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        json.dumps(
            {
                "out": str(out),
                "seed": a.seed,
                "people": a.people,
                "records": len(g.recs),
                "per_source": stats["records_per_source"],
                "true_pairs": true_pairs,
                "recall_ceiling": ceiling["recall_ceiling"],
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
