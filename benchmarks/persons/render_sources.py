"""persons benchmark: how each of the six systems renders a record (mixed into generate.Gen)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, timedelta, timezone

from names import (
    COUNTRIES,
    COUNTRY_FREE_TEXT,
    JUNK_NAMES,
    LOCALE,
    PLACEHOLDER_DOBS,
    PLACEHOLDER_EMAILS,
    PLACEHOLDER_PHONES,
    RELAY_DOMAIN,
    TITLES,
    TZ,
)
from textkit import (
    FOLD_P,
    NICK_P,
    NOW,
    STREET_ABBR,
    ZD_LOCALE,
    de_fold,
    fmt_phone,
    is_ascii,
    strip_accents,
    title,
    translit,
    typo,
    wchoice,
)


class Renderer:
    """Rendering of one record per source; needs self.rng (random.Random)."""

    # --- rendering helpers ----------------------------------------------------------------
    def state(self, rec):
        p, t = rec.p, rec.t
        st = {
            "surname": p.surname,
            "addr": p.addr,
            "landline": p.landline,
            "mobile": p.mobile,
            "email": p.email,
            "old": set(),
        }
        if p.married_at and t < p.married_at:
            st["surname"] = p.maiden
            st["old"].add("marriage_name_change")
        if p.moved_at and t < p.moved_at:
            st["addr"], st["old"] = p.addr_old, st["old"] | {"moved"}
            if p.landline_old:
                st["landline"] = p.landline_old
        if p.mobile_changed_at and t < p.mobile_changed_at:
            st["mobile"] = p.mobile_old
            st["old"].add("phone_changed")
        if p.email_changed_at and t < p.email_changed_at:
            st["email"] = p.email_old
            st["old"].add("email_changed")
        return st

    def tag(self, rec, kind, gid=""):
        if (kind, gid) not in rec.tags:
            rec.tags.append((kind, gid))

    def name_parts(self, rec, st):
        """(given, surname) as this record holds them, tagging positive kinds."""
        r, p, src = self.rng, rec.p, rec.src
        surname = st["surname"]
        given = p.given
        if p.origin == "RU":
            if src == "app" and r.random() < 0.4:
                given, surname = p.given_cyr, p.surname_cyr
                self.tag(rec, "transliteration")
            else:
                sch = wchoice(r, [("A", 55), ("B", 20), ("C", 25)])
                given, surname = translit(p.given_cyr, sch), translit(p.surname_cyr, sch)
                if (given, surname) != (p.given, p.surname):
                    self.tag(rec, "transliteration")
        if p.nick and r.random() < NICK_P[src]:
            given = p.nick
            self.tag(rec, "nickname")
        elif " " in given and p.origin == "ES" and r.random() < 0.3:
            given = given.split(" ")[0]
        if p.surname2:
            x = r.random()
            if x < 0.58:
                surname = f"{surname} {p.surname2}"
            elif x < 0.63:
                surname = f"{surname}-{p.surname2}"
            elif x < 0.66 and src != "loyalty":
                surname = f"{surname} y {p.surname2}"
            else:
                self.tag(rec, "double_surname")
        if p.origin != "RU" and not is_ascii(given + surname) and r.random() < FOLD_P[src]:
            de_style = (p.origin in ("DE", "NL", "DK") or r.random() < 0.15) and r.random() < 0.6
            fold = de_fold if de_style else strip_accents
            given, surname = fold(given), fold(surname)
            self.tag(rec, "transliteration")
        if p.suffix:
            if p.suffix == "Jr" and r.random() < 0.45:
                surname = f"{surname} {r.choice(['Jr', 'Jr.', 'Junior'])}"
            elif p.suffix == "Sr" and r.random() < 0.15:
                surname = f"{surname} {r.choice(['Sr', 'Sr.', 'Senior'])}"
        x = r.random()
        init_p = {"loyalty": 0.05, "crm": 0.03, "shop": 0.02, "support": 0.03, "app": 0.01, "newsletter": 0.02}[src]
        if x < init_p:
            given = given[0].upper() + r.choice([".", "", "."])
            self.tag(rec, "initial_only")
        elif x < init_p + 0.025:
            if r.random() < 0.5:
                given = typo(given, r)
            else:
                surname = typo(surname, r)
            self.tag(rec, "typo")
        if p.origin == "NL" and re.match(r"^(van|de|den|der|ter|te|ten) ", surname):
            y = r.random()
            if y < 0.15:
                surname = title(surname)
            elif y < 0.22:
                surname = surname.replace(" ", "")
        if "marriage_name_change" in st["old"]:
            self.tag(rec, "marriage_name_change_old")
        return given, surname

    def case_name(self, s, src):
        r = self.rng
        x = r.random()
        lower_p = {"shop": 0.07, "app": 0.12, "newsletter": 0.10, "loyalty": 0.0, "support": 0.08, "crm": 0.02}[src]
        upper_p = {"shop": 0.03, "app": 0.02, "newsletter": 0.02, "loyalty": 0.35, "support": 0.03, "crm": 0.04}[src]
        if x < lower_p:
            return s.lower()
        if x < lower_p + upper_p:
            return s.upper()
        return s

    def ws(self, s):
        if not s:
            return s
        x = self.rng.random()
        if x < 0.015:
            return " " + s
        if x < 0.03:
            return s + " "
        if x < 0.04 and " " in s:
            return s.replace(" ", "  ", 1)
        return s

    def pick_email(self, rec, st, src):
        """The e-mail a record holds (None = empty)."""
        r, p = self.rng, rec.p
        if rec.force_mailbox and p.shared_mailbox:
            self.tag(rec, "shared_mailbox", dict((k, g) for k, g in p.groups)["shared_mailbox"])
            return p.shared_mailbox
        if p.shared_mailbox and src != "newsletter" and r.random() < p.mailbox_p:
            self.tag(rec, "shared_mailbox", dict((k, g) for k, g in p.groups)["shared_mailbox"])
            return p.shared_mailbox
        if p.family_mailbox and src != "newsletter" and r.random() < p.mailbox_p:
            return p.family_mailbox
        choices = [(st["email"], 78)]
        if p.email2:
            choices.append((p.email2, 20 if src == "newsletter" else 12))
        if p.work_email:
            choices.append((p.work_email, 10 if src in ("crm", "support") else 4))
        e = wchoice(r, choices)
        if e == p.email_old and p.email_old:
            self.tag(rec, "email_changed_old")
        return self.email_noise(rec, e)

    def email_noise(self, rec, e):
        r = self.rng
        local, dom = e.split("@")
        x = r.random()
        if dom in ("gmail.com", "googlemail.com") and x < 0.09:
            y = r.random()
            if y < 0.35 and "." in local:
                local = local.replace(".", "", 1)
            elif y < 0.55 and len(local) > 4:
                i = r.randint(1, len(local) - 2)
                if local[i - 1] != "." and local[i] != ".":
                    local = local[:i] + "." + local[i:]
            elif y < 0.8:
                local = local + "+" + r.choice(["shop", "news", "app", "promo", "2", "spam", "loyalty"])
            else:
                dom = "googlemail.com" if dom == "gmail.com" else "gmail.com"
            self.tag(rec, "email_variant")
        elif x < 0.02 and dom not in ("gmail.com", "googlemail.com"):
            local = local + "+" + r.choice(["shop", "news", "promo"])
            self.tag(rec, "email_variant")
        e = f"{local}@{dom}"
        y = r.random()
        if y < 0.05:
            if r.random() < 0.6:
                e = e[0].upper() + e[1:]
            else:
                e = title(local.replace(".", ". ")).replace(". ", ".") + "@" + dom
            self.tag(rec, "email_variant")
        elif y < 0.065:
            e = e.upper()
            self.tag(rec, "email_variant")
        elif y < 0.085:
            i = r.randint(1, len(local) - 1) if len(local) > 3 else 0
            if i:
                e = typo(local, r) + "@" + dom
                self.tag(rec, "typo")
        return e

    def pick_phone(self, rec, st, src, prefer_landline=False):
        if rec.force_phone:
            return st["mobile"]
        if prefer_landline and st["landline"]:
            return st["landline"]
        if st["mobile"]:
            return st["mobile"]
        return st["landline"] or None

    def phone_str(self, e164, styles):
        return fmt_phone(e164, wchoice(self.rng, styles), self.rng)

    def city_str(self, addr):
        r = self.rng
        if addr.city_variants and r.random() < 0.22:
            return r.choice(addr.city_variants)
        return addr.city if r.random() > 0.04 else strip_accents(addr.city)

    def postcode_str(self, addr):
        r = self.rng
        pc = addr.postcode
        if r.random() < 0.2:
            if addr.cc in ("GB", "NL"):
                pc = pc.replace(" ", "") if r.random() < 0.7 else pc.lower()
            elif addr.cc == "PL":
                pc = pc.replace("-", "")
            elif addr.cc == "US" and pc.startswith("0"):
                pc = pc[1:]
            elif addr.cc == "DE" and r.random() < 0.5:
                pc = "D-" + pc
        return pc

    def line_str(self, addr):
        r = self.rng
        s = addr.line
        if r.random() < 0.3:
            for a, b in STREET_ABBR:
                if a in s:
                    s = s.replace(a, b)
                    break
        if r.random() < 0.05:
            s = s.upper()
        return s

    def dob_value(self, rec, placeholder_p=0.0):
        """DOB of the record as a date or a marker string, with junk/placeholder tags."""
        r, p = self.rng, rec.p
        x = r.random()
        if x < placeholder_p:
            v = r.choice(PLACEHOLDER_DOBS)
            self.tag(rec, "placeholder", "dob:" + v)
            return date.fromisoformat(v)
        if x < placeholder_p + 0.006:
            self.tag(rec, "future_dob")
            y = r.random()
            if y < 0.5:
                return date(min(p.dob.year + 100, 2099), p.dob.month, min(p.dob.day, 28))
            return (
                (rec.t + timedelta(days=r.randint(1, 400))).date()
                if rec.t < NOW - timedelta(days=400)
                else (NOW + timedelta(days=r.randint(30, 900))).date()
            )
        if x < placeholder_p + 0.02:  # day/month swapped (only when ambiguous) or off by one day
            d = p.dob
            if d.day <= 12 and d.month != d.day:
                self.tag(rec, "dob_swapped")
                return date(d.year, d.day, d.month)
            self.tag(rec, "typo")
            return d + timedelta(days=r.choice([-1, 1]))
        return p.dob

    def addr_state(self, rec, st, shown):
        """For people who moved: mark records showing the old address / the current one."""
        if shown and rec.p.moved_at is not None:
            self.tag(rec, "moved_old" if "moved" in st["old"] else "addr_new")

    def name_only(self, rec, p_):
        if self.rng.random() < p_:
            self.tag(rec, "name_only")
            return True
        return False

    def junk_name(self, rec):
        if self.rng.random() < 0.006:
            self.tag(rec, "junk")
            return self.rng.choice(JUNK_NAMES)
        return None

    def placeholder_email(self, rec, p_):
        if self.rng.random() < p_:
            v = self.rng.choice(PLACEHOLDER_EMAILS)
            self.tag(rec, "placeholder", "email:" + v)
            return v if self.rng.random() < 0.85 else v.upper()
        return None

    def placeholder_phone(self, rec, p_):
        if self.rng.random() < p_:
            v = self.rng.choice(PLACEHOLDER_PHONES)
            self.tag(rec, "placeholder", "phone:" + re.sub(r"\D", "", v))
            return v
        return None

    def junk_email(self, rec, e):
        if e and self.rng.random() < 0.004:
            self.tag(rec, "junk")
            return self.rng.choice([e.replace("@", "."), e.split("@")[0] + "@", e.replace(".", ",", 1), "-"])
        return e

    def relay(self, rec):
        self.tag(rec, "relay_email")
        return "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10)) + "@" + RELAY_DOMAIN

    # --- sources ----------------------------------------------------------------------------
    def render_shop(self, rec):
        r, p = self.rng, rec.p
        st = self.state(rec)
        given, surname = self.name_parts(rec, st)
        given, surname = self.case_name(given, "shop"), self.case_name(surname, "shop")
        x = r.random()
        if x < 0.015:
            given, surname = f"{given} {surname}", ""
            self.tag(rec, "full_name_in_first")
        elif x < 0.03:
            given, surname = surname, given
            self.tag(rec, "swapped_order")
        j = self.junk_name(rec)
        if j:
            given, surname = j, ""
        email = self.placeholder_email(rec, 0.008)
        if email is None:
            if r.random() < 0.025:
                email = self.relay(rec)
            elif r.random() < 0.03 and not rec.force_mailbox:
                email = ""
            else:
                email = self.pick_email(rec, st, "shop")
        email = self.junk_email(rec, email)
        phone = ""
        if rec.force_phone or r.random() < 0.42:
            ph = self.pick_phone(rec, st, "shop")
            phone = ph or ""
        addr = st["addr"]
        has_addr = r.random() < 0.82
        aphone = ""
        if has_addr and r.random() < 0.33:
            ph = st["landline"] if st["landline"] and r.random() < 0.5 else st["mobile"]
            if ph:
                aphone = self.phone_str(ph, [("national", 45), ("intl", 25), ("compact", 15), ("00", 10), ("plus0", 5)])
                if phone and ph != phone:
                    self.tag(rec, "multi_contact")
        if email == "" and not phone and not aphone and r.random() < 0.8:
            phone = st["mobile"] or ""
        self.addr_state(rec, st, has_addr)
        offs = TZ[p.cc][1]
        tz = timezone(timedelta(hours=offs))
        created = rec.t.astimezone(tz)
        orders = max(0, int(r.expovariate(1 / 4.0)))
        spent = round(sum(r.uniform(8, 180) for _ in range(orders)), 2)
        tags = [
            t
            for t in (
                "vip" if spent > 600 else "",
                "newsletter" if r.random() < 0.3 else "",
                "wholesale" if r.random() < 0.02 else "",
                "pos" if r.random() < 0.15 else "",
            )
            if t
        ]
        return {
            "Customer ID": "",
            "First Name": self.ws(given),
            "Last Name": self.ws(surname),
            "Email": self.ws(email),
            "Accepts Email Marketing": "yes" if r.random() < 0.45 else "no",
            "Default Address Company": "",
            "Default Address Address1": self.line_str(addr) if has_addr else "",
            "Default Address Address2": addr.line2 if has_addr else "",
            "Default Address City": self.city_str(addr) if has_addr else "",
            "Default Address Province Code": addr.state if has_addr else "",
            "Default Address Country Code": addr.cc if has_addr or r.random() < 0.5 else "",
            "Default Address Zip": self.postcode_str(addr) if has_addr else "",
            "Default Address Phone": aphone,
            "Phone": phone,
            "Accepts SMS Marketing": "yes" if phone and r.random() < 0.3 else "no",
            "Total Spent": f"{spent:.2f}",
            "Total Orders": str(orders),
            "Created At": created.strftime("%Y-%m-%d %H:%M:%S %z"),
            "Note": "",
            "Tax Exempt": "no",
            "Tags": ", ".join(tags),
        }

    def render_app(self, rec):
        r, p = self.rng, rec.p
        st = self.state(rec)
        given, surname = self.name_parts(rec, st)
        given, surname = self.case_name(given, "app"), self.case_name(surname, "app")
        platform = wchoice(r, [("ios", 50), ("android", 45), ("web", 5)])
        auth = wchoice(
            r,
            [("apple", 40), ("password", 40), ("phone", 20)]
            if platform == "ios"
            else [("google", 45), ("password", 35), ("phone", 20)],
        )
        email = None
        if auth == "apple" and r.random() < 0.6:
            email = self.relay(rec)
        elif auth == "phone" and r.random() < 0.7 and not rec.force_mailbox:
            email = None
        else:
            email = self.pick_email(rec, st, "app")
            if auth == "google" and "@gmail" not in email and r.random() < 0.7:
                email = self.email_noise(rec, p.email if "gmail" in p.email else st["email"])
        email = self.junk_email(rec, email)
        phone = None
        if auth == "phone" or rec.force_phone or r.random() < 0.35:
            ph = st["mobile"] if (rec.force_phone or st["mobile"]) else None
            if ph:
                phone = self.phone_str(ph, [("e164", 70), ("compact", 30)])
        if email is None and phone is None:
            ph = st["mobile"] or st["landline"]
            phone = ph if ph else None
            if phone is None:
                email = self.pick_email(rec, st, "app")
        dob = None
        if r.random() < 0.68:
            dob = self.dob_value(rec, placeholder_p=0.015).isoformat()
        city = self.city_str(st["addr"]) if r.random() < 0.5 else None
        self.addr_state(rec, st, bool(city))
        legacy = rec.t < datetime(2022, 6, 1, tzinfo=UTC)
        row = {"id": "", "email": self.ws(email) if email else email, "phone": phone}
        j = self.junk_name(rec)
        if legacy:
            x = r.random()
            if j:
                dn = j
            elif x < 0.62:
                dn = f"{given} {surname}"
            elif x < 0.82:
                dn = f"{given} {surname[:1]}."
                self.tag(rec, "initial_only")
            elif x < 0.95:
                dn = given
            else:
                dn = f"{surname} {given}"
                self.tag(rec, "swapped_order")
            row["display_name"] = self.ws(dn) if r.random() < 0.93 else None
        else:
            if j:
                given, surname = j, ""
            if r.random() < 0.02:
                given, surname = surname, given
                self.tag(rec, "swapped_order")
            row["given_name"] = self.ws(given) if r.random() < 0.95 else None
            row["family_name"] = self.ws(surname) if r.random() < 0.88 else None
        row.update(
            {
                "date_of_birth": dob,
                "city": city,
                "locale": LOCALE[p.cc] if r.random() < 0.9 else "en-US",
                "platform": platform,
                "auth_provider": auth,
                "shop_customer_id": None,
                "marketing_opt_in": r.random() < 0.4,
                "signup_at": rec.t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{r.randint(0, 999):03d}Z",
            }
        )
        return row

    def render_newsletter(self, rec):
        r, p = self.rng, rec.p
        st = self.state(rec)
        given, surname = self.name_parts(rec, st)
        given, surname = self.case_name(given, "newsletter"), self.case_name(surname, "newsletter")
        x = r.random()
        if x < 0.30:
            given = surname = ""
        elif x < 0.40:
            surname = ""
        if rec.dup:
            email = self.email_noise(rec, p.email2 or p.work_email or p.email_old or st["email"])
        elif r.random() < 0.02:
            email = self.relay(rec)
        else:
            email = self.pick_email(rec, st, "newsletter")
        bday = ""
        if r.random() < 0.2:
            d = self.dob_value(rec)
            bday = f"{d.month:02d}/{d.day:02d}"
        phone = ""
        if r.random() < 0.08 and (st["mobile"] or st["landline"]):
            phone = self.phone_str(st["mobile"] or st["landline"], [("national", 50), ("intl", 30), ("e164", 20)])
        opt = rec.t
        conf = opt + timedelta(minutes=r.randint(1, 3000))
        geo_cc = p.cc if r.random() < 0.88 else r.choice([*COUNTRIES, ""])
        return {
            "Email Address": email.strip() if r.random() < 0.7 else email,
            "First Name": given,
            "Last Name": surname,
            "Birthday": bday,
            "Phone Number": phone,
            "MEMBER_RATING": str(wchoice(r, [(1, 10), (2, 45), (3, 25), (4, 12), (5, 8)])),
            "OPTIN_TIME": opt.strftime("%Y-%m-%d %H:%M:%S"),
            "OPTIN_IP": "",
            "CONFIRM_TIME": conf.strftime("%Y-%m-%d %H:%M:%S"),
            "CONFIRM_IP": f"{r.randint(2, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            "GMTOFF": str(TZ[geo_cc][1]) if geo_cc else "",
            "TIMEZONE": LOCALE.get(geo_cc, "") and TZ[geo_cc][0] if geo_cc else "",
            "CC": geo_cc,
            "REGION": p.addr.state if geo_cc == "US" else "",
            "LAST_CHANGED": (
                conf + timedelta(days=r.randint(0, 900)) if conf < NOW - timedelta(days=900) else conf
            ).strftime("%Y-%m-%d %H:%M:%S"),
            "LEID": "",
            "EUID": "".join(r.choice("0123456789abcdef") for _ in range(10)),
            "NOTES": "",
            "TAGS": r.choice(["", "", "web signup", "popup", "checkout", "in-store"]),
        }

    def render_loyalty(self, rec):
        r, p = self.rng, rec.p
        st = self.state(rec)
        given, surname = self.name_parts(rec, st)
        addr = st["addr"]
        x = r.random()
        if x < 0.45:
            full = f"{surname.upper()}, {given}"
            self.tag(rec, "surname_first")
            if p.origin == "NL":
                m = re.match(r"^((?:van|de|den|der|ter|ten|te)(?: (?:van|de|den|der))*) (.+)$", surname)
                if m and r.random() < 0.5:
                    full = f"{m.group(2).upper()} {m.group(1)}, {given}"
        elif x < 0.47:
            full = f"{surname} {given}"
            self.tag(rec, "swapped_order")
        else:
            full = f"{given} {surname}"
        full = self.case_name(full, "loyalty")
        if r.random() < 0.05 and p.cc in TITLES:
            full = r.choice(TITLES[p.cc]) + " " + full
        j = self.junk_name(rec)
        if j:
            full = j
        only = self.name_only(rec, 0.045)
        dob = ""
        if not only and r.random() < 0.85:
            d = self.dob_value(rec, placeholder_p=0.02)
            dob = f"{d.day:02d}/{d.month:02d}/{d.year:04d}"
        phone = ""
        if not only:
            ph = self.placeholder_phone(rec, 0.025)
            if ph is None and (rec.force_phone or r.random() < 0.80):
                e164 = self.pick_phone(rec, st, "loyalty", prefer_landline=r.random() < 0.6)
                if e164:
                    ph = self.phone_str(e164, [("national", 70), ("compact", 18), ("intl", 7), ("dots", 5)])
            phone = ph or ""
        email = ""
        if not only:
            email = self.placeholder_email(rec, 0.06)
            if email is None:
                email = self.pick_email(rec, st, "loyalty") if (r.random() < 0.35 or rec.force_mailbox) else ""
            email = self.junk_email(rec, email)
        has_pc = not only and r.random() < 0.90
        has_line = not only and r.random() < 0.75
        city = self.city_str(addr) if (not only and r.random() < 0.8) or (only and r.random() < 0.5) else ""
        self.addr_state(rec, st, bool(has_pc or has_line or city))
        status = (
            "replaced"
            if rec.dup == 0 and len([q for q in p.records if q.src == "loyalty"]) > 1
            else wchoice(r, [("active", 80), ("inactive", 20)])
        )
        return {
            "card_number": "",
            "full_name": self.ws(full),
            "birth_date": dob,
            "phone": phone,
            "email": email,
            "address_line": self.line_str(addr) if has_line else "",
            "postcode": self.postcode_str(addr) if has_pc else "",
            "city": city,
            "country": p.cc,
            "store_code": f"{p.cc}-{r.randint(1, 420):04d}",
            "enrolled_on": rec.t.strftime("%d/%m/%Y"),
            "points_balance": str(int(r.expovariate(1 / 900))),
            "status": status,
        }

    def render_support(self, rec):
        r, p = self.rng, rec.p
        st = self.state(rec)
        given, surname = self.name_parts(rec, st)
        only = self.name_only(rec, 0.04)
        email = None
        phone = None
        if not only:
            via_phone = r.random() < 0.18 and not rec.force_mailbox
            if not via_phone:
                email = self.junk_email(rec, self.pick_email(rec, st, "support"))
            if via_phone or rec.force_phone or r.random() < 0.2:
                ph = self.pick_phone(rec, st, "support")
                if ph:
                    phone = self.phone_str(ph, [("e164", 80), ("intl", 20)])
            if email is None and phone is None:
                email = self.pick_email(rec, st, "support")
        x = r.random()
        if only:
            name = f"{given} {surname}"
        elif email and x < 0.10:
            name = email.split("@")[0]  # Zendesk names users after the e-mail local part
            self.tag(rec, "name_from_email")
        elif x < 0.18:
            name = given
        elif phone and not email and x < 0.22:
            name = f"Caller {phone}"
            self.tag(rec, "no_name")
        else:
            name = f"{given} {surname}"
        name = self.case_name(name, "support")
        j = self.junk_name(rec)
        if j:
            name = j
        org = None
        if p.shared_mailbox and email == p.shared_mailbox:
            org = 360000000000 + int(hashlib.sha256(p.shared_mailbox.encode()).hexdigest()[:8], 16) % 10**9
        created = rec.t.strftime("%Y-%m-%dT%H:%M:%SZ")
        upd = min(NOW, rec.t + timedelta(days=r.randint(0, 700))).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "id": 0,
            "url": "",
            "name": self.ws(name),
            "email": email,
            "phone": phone,
            "role": "end-user",
            "locale": ZD_LOCALE[p.cc],
            "time_zone": TZ[p.cc][0],
            "organization_id": org,
            "external_id": None,
            "tags": [],
            "verified": bool(email) and r.random() < 0.7,
            "active": True,
            "created_at": created,
            "updated_at": upd,
            "user_fields": {"loyalty_card": None},
        }

    def render_crm(self, rec):
        r, p = self.rng, rec.p
        st = self.state(rec)
        given, surname = self.name_parts(rec, st)
        given, surname = self.case_name(given, "crm"), self.case_name(surname, "crm")
        if r.random() < 0.012:
            given, surname = surname, given
            self.tag(rec, "swapped_order")
        j = self.junk_name(rec)
        if j:
            given, surname = j, ""
        only = self.name_only(rec, 0.03)
        email = extra = ""
        phone = mobile = ""
        dob = zipc = line = city = country = ""
        addr = st["addr"]
        if only:
            city = self.city_str(addr) if r.random() < 0.6 else ""
        else:
            email = self.placeholder_email(rec, 0.015)
            if email is None:
                email = self.pick_email(rec, st, "crm") if r.random() < 0.9 or rec.force_mailbox else ""
            email = self.junk_email(rec, email)
            if r.random() < 0.13:
                others = [
                    e
                    for e in (p.email2, p.work_email, p.email_old, p.email)
                    if e and e.lower() != (email or "").lower()
                ]
                if others:
                    extra = ";".join(self.email_noise(rec, e) for e in others[: r.choice([1, 1, 2])])
                    self.tag(rec, "multi_contact")
            styles = [("intl", 35), ("national", 30), ("e164", 15), ("plus0", 8), ("00", 7), ("digits_cc", 5)]
            pl = self.placeholder_phone(rec, 0.01)
            if pl:
                phone = pl
            elif rec.force_phone or r.random() < 0.55:
                ph = self.pick_phone(rec, st, "crm", prefer_landline=r.random() < 0.4)
                phone = self.phone_str(ph, styles) if ph else ""
            if r.random() < 0.35:
                cand = [x for x in (st["mobile"], p.mobile_old if p.mobile_old != st["mobile"] else "") if x]
                if cand:
                    mob = cand[0] if r.random() < 0.85 else cand[-1]
                    mobile = self.phone_str(mob, styles)
                    if phone and re.sub(r"\D", "", mobile)[-8:] != re.sub(r"\D", "", phone)[-8:]:
                        self.tag(rec, "multi_contact")
            if r.random() < 0.4:
                dob = self.dob_value(rec, placeholder_p=0.005).isoformat()
            if r.random() < 0.6:
                city = self.city_str(addr)
            if r.random() < 0.45:
                zipc = self.postcode_str(addr)
            if r.random() < 0.3:
                line = self.line_str(addr)
            if r.random() < 0.7:
                country = r.choice(COUNTRY_FREE_TEXT[p.cc])
        self.addr_state(rec, st, bool(city or zipc or line))
        created = rec.t.strftime("%Y-%m-%d %H:%M")
        mod = min(NOW, rec.t + timedelta(days=r.randint(0, 900))).strftime("%Y-%m-%d %H:%M")
        return {
            "hs_object_id": "",
            "firstname": self.ws(given),
            "lastname": self.ws(surname),
            "email": self.ws(email),
            "hs_additional_emails": extra,
            "phone": phone,
            "mobilephone": mobile,
            "date_of_birth": dob,
            "address": line,
            "city": city,
            "zip": zipc,
            "country": country,
            "createdate": created,
            "lastmodifieddate": mod,
            "lifecyclestage": wchoice(r, [("subscriber", 25), ("lead", 30), ("customer", 35), ("other", 10)]),
            "hs_lead_status": r.choice(["", "", "NEW", "OPEN", "CONNECTED", "UNQUALIFIED"]),
        }
