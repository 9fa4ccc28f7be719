"""Person grain: names by parts, nicknames, transliteration, personal e-mail forms, shared values,
household constraints and records known only by a name."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from c360.identity.evaluate import read_truth
from c360.identity.given_names import are_variants, canonical_forms
from c360.identity.normalise import normalise_attributes
from c360.identity.people import Person, conflict, resolve_people, shared_values
from c360.identity.persons import date_of_birth, name_key, person_parts, personal_email
from c360.identity.records import IdentityRecord, make_record

IDENTITY = {
    "first_name": "first",
    "last_name": "last",
    "person_name": "name",
    "email": ["email", "email2"],
    "phone": ["phone", "mobile"],
    "dob": "dob",
    "postcode": "zip",
    "city": "city",
    "country": "cc",
}


def test_nicknames_and_diminutives_are_variants_of_the_name() -> None:
    assert are_variants("Bob", "Robert") and are_variants("bill", "William") and are_variants("Liz", "Elizabeth")
    assert are_variants("Kasia", "Katarzyna") and are_variants("Paco", "Francisco")
    # One hop: Katie stands for Katy, a short form of Katherine; John and Joan stay two names.
    assert are_variants("Katie", "Katherine") and not are_variants("John", "Joan")
    assert are_variants("Sasha", "Aleksandr") and are_variants("bob", "rob")  # both short for Robert
    assert not are_variants("anna", "maria") and not are_variants("john", "peter")
    assert "katarzyna" in canonical_forms("kasia")


def test_transliteration_and_diacritics_meet_in_one_key() -> None:
    assert name_key("Müller") == name_key("Mueller") == name_key("MULLER") == "muller"
    assert name_key("Şahin") == name_key("Sahin") and name_key("José") == "jose"
    assert name_key("Øster") == name_key("Oster")
    assert person_parts("Олег Петров") == person_parts(given="Oleg", family="Petrov")


def test_a_name_by_parts_or_whole_gives_one_person_name() -> None:
    whole = person_parts("SMITH, John")
    assert whole == person_parts(given="John", family="Smith") == person_parts("Dr. John Smith")
    assert person_parts("John Smith Jr").generation == "jr"
    assert person_parts("Ludwig van Beethoven").family == "van beethoven"
    assert person_parts("J. Smith").given == "j"
    assert person_parts("n/a") is None


def test_email_normalised_per_provider() -> None:
    assert personal_email("j.doe+shop@googlemail.com") == personal_email("jdoe@gmail.com") == "jdoe@gmail.com"
    assert personal_email("jane.doe+news@acme.com") == "jane.doe@acme.com"  # dots mean something here
    assert personal_email("jane.doe@acme.com") != personal_email("janedoe@acme.com")


def test_a_date_of_birth_in_the_future_or_a_placeholder_is_missing_evidence() -> None:
    today = dt.date(2026, 1, 1)
    assert date_of_birth("2030-05-01", today) == (None, "in the future")
    assert date_of_birth("1900-01-01", today) == (None, "a placeholder")
    assert date_of_birth(dt.date(1984, 2, 29), today) == ("1984-02-29", None)
    attrs = normalise_attributes({"person_name": "Ann Lee", "dob": "2999-01-01"})
    assert attrs.dob is None and attrs.refused == ("dob in the future",)


def test_several_emails_and_phones_per_record() -> None:
    r = make_record(
        "crm",
        "1",
        IDENTITY,
        {
            "first": "Ann",
            "last": "Lee",
            "email": "ann@x.org",
            "email2": "Ann.Lee@Gmail.com",
            "phone": "020 7946 0958",
            "mobile": "+44 7700 900123",
            "cc": "GB",
        },
    )
    assert r.attrs.emails == ("ann@x.org", "ann.lee@gmail.com")
    assert r.attrs.phones == ("+442079460958", "+447700900123")
    assert (r.attrs.given_name, r.attrs.family_name) == ("ann", "lee")


def test_household_members_twins_and_father_and_son_conflict() -> None:
    john, mary = Person("john", "smith", None, None), Person("mary", "smith", None, None)
    assert conflict(john, mary) == "given names john and mary"
    assert conflict(Person("robert", "smith", None, None), Person("bob", "smith", None, None)) is None
    assert conflict(Person("j", "smith", None, None), john) is None  # an initial
    father = Person("john", "smith", "1958-03-02", None)
    son = Person("john", "smith", "1986-07-19", None)
    assert conflict(father, son) is not None
    assert conflict(Person("john", "smith", None, "jr"), Person("john", "smith", None, "sr")) is not None
    assert conflict(father, Person("john", "smith", "1958-02-03", None)) is None  # day and month swapped
    assert conflict(Person("smith", "john", None, None), john) is None  # parts swapped


def test_a_value_held_by_people_who_cannot_be_one_is_shared() -> None:
    persons = {
        "a": Person("john", "smith", None, None),
        "b": Person("mary", "smith", None, None),
        "c": Person("bob", "jones", None, None),
        "d": Person("robert", "jones", None, None),
    }
    shared = shared_values({"smiths@gmail.com": ["a", "b"], "bob@jones.net": ["c", "d"]}, persons)
    assert shared == {"smiths@gmail.com"}


# ------------------------------------------------------------------- resolution end to end

GIVEN = [
    "oliver",
    "amelia",
    "george",
    "isla",
    "harry",
    "ava",
    "noah",
    "mia",
    "jack",
    "ella",
    "leo",
    "grace",
    "arthur",
    "lily",
    "oscar",
    "freya",
    "charlie",
    "emily",
    "henry",
    "sophie",
    "thomas",
    "lucy",
    "william",
    "hannah",
    "james",
    "chloe",
    "samuel",
    "ruby",
    "daniel",
    "evie",
]
FAMILY = [
    "taylor",
    "brown",
    "wilson",
    "evans",
    "thomas",
    "roberts",
    "walker",
    "wright",
    "thompson",
    "white",
    "hughes",
    "edwards",
    "green",
    "hall",
    "wood",
    "harris",
    "lewis",
    "martin",
    "jackson",
    "clarke",
    "clark",
    "turner",
    "hill",
    "scott",
    "cooper",
    "morris",
    "ward",
    "moore",
    "king",
    "watson",
    "baker",
    "harrison",
]


def _population(n: int, seed: int = 5) -> tuple[list[IdentityRecord], dict[str, int]]:
    """People in two or three systems each, with missing values: a background to resolve against."""
    rnd = random.Random(seed)
    records, truth = [], {}
    for i in range(n):
        first, last = rnd.choice(GIVEN), rnd.choice(FAMILY)
        dob = (dt.date(1950, 1, 1) + dt.timedelta(days=rnd.randrange(18000))).isoformat()
        email = f"{first}.{last}.{i}@example-mail.com"
        phone = f"+4477009{i:05d}"
        for s in range(rnd.choice([1, 2, 2, 3])):
            row = {
                "first": first,
                "last": last,
                "email": email if rnd.random() < 0.7 else None,
                "phone": phone if rnd.random() < 0.6 else None,
                "dob": dob if rnd.random() < 0.6 else None,
                "zip": f"AB{i % 97} {i % 9}XY" if rnd.random() < 0.5 else None,
                "cc": "GB",
            }
            key = f"p{i}-{s}"
            records.append(make_record(f"sys{s}", key, IDENTITY, row))
            truth[f"sys{s}:{key}"] = i
    return records, truth


def _add(records: list[IdentityRecord], source: str, key: str, **row: str) -> str:
    records.append(make_record(source, key, IDENTITY, {"cc": "GB", **row}))
    return f"{source}:{key}"


@pytest.fixture(scope="module")
def planted() -> tuple[dict[str, str], dict[str, str]]:
    records, _ = _population(400)
    rid = {
        # One person, hard to link: a nickname, a transliteration, an e-mail variant.
        "bob": _add(records, "shop", "bob", first="Bob", last="Zabinski", dob="1971-04-12", zip="ZZ1 1AA"),
        "robert": _add(records, "loyalty", "robert", name="ZABINSKI, Robert", dob="1971-04-12", zip="ZZ1 1AA"),
        "mueller": _add(
            records, "shop", "mueller", first="Jürgen", last="Müller", dob="1966-09-30", phone="+49 30 901820"
        ),
        "muller": _add(records, "app", "muller", name="Juergen Mueller", dob="1966-09-30", phone="030 901820", cc="DE"),
        "gmail1": _add(records, "shop", "gm1", first="Tess", last="Quill", email="t.quill+shop@googlemail.com"),
        "gmail2": _add(records, "app", "gm2", name="Tess Quill", email="TQuill@gmail.com"),
        # Different people who look alike: a household on one mailbox and landline, a father and son.
        "wife": _add(
            records,
            "shop",
            "wife",
            first="Mary",
            last="Vexley",
            email="vexleys@gmail.com",
            phone="020 7946 0101",
            zip="VX1 2AB",
            dob="1970-01-15",
        ),
        "husband": _add(
            records,
            "app",
            "husband",
            name="Peter Vexley",
            email="vexleys@gmail.com",
            phone="020 7946 0101",
            zip="VX1 2AB",
        ),
        "father": _add(
            records,
            "shop",
            "father",
            first="Alan",
            last="Yarrow",
            dob="1955-06-01",
            zip="YY9 9ZZ",
            phone="020 7946 0202",
        ),
        "son": _add(records, "app", "son", name="Alan Yarrow", dob="1983-11-20", zip="YY9 9ZZ", phone="020 7946 0202"),
        # A father and son of one name at one postcode: the son's shop record gives no date of birth,
        # but his loyalty card shows the postcode holds two people of that name.
        "f_shop": _add(
            records,
            "shop",
            "f_shop",
            first="Ivor",
            last="Quimby",
            email="ivor.quimby@btinternet.com",
            zip="QQ1 1QQ",
            city="Quarrytown",
        ),
        "f_app": _add(
            records,
            "app",
            "f_app",
            name="Ivor Quimby",
            email="ivor.quimby@btinternet.com",
            dob="1950-03-03",
            zip="QQ1 1QQ",
        ),
        "s_card": _add(
            records,
            "loyalty",
            "s_card",
            name="Ivor Quimby",
            dob="1979-08-08",
            zip="QQ1 1QQ",
            email="iquimby.work@quarry-mail.com",
        ),
        "s_shop": _add(
            records,
            "shop",
            "s_shop",
            first="Ivor",
            last="Quimby",
            email="ivorq79@gmail.com",
            zip="QQ1 1QQ",
            city="Quarrytown",
        ),
        # A Jr has a father of his name: at their postcode, a record of that name alone is either.
        "jr": _add(
            records,
            "shop",
            "jr",
            first="Tobias",
            last="Ashdown Jr",
            email="toby.ashdown@btinternet.com",
            zip="TA1 1AT",
            city="Tarnford",
        ),
        "sr": _add(
            records, "app", "sr", name="Tobias Ashdown", email="t.ashdown1950@aol.com", zip="TA1 1AT", city="Tarnford"
        ),
        "either": _add(records, "loyalty", "either", name="Tobias Ashdown", zip="TA1 1AT", city="Tarnford"),
        # Known only by a name.
        "only": _add(records, "loyalty", "only", name="Quentin Ormsby"),
    }
    resolution = resolve_people(records, [], threshold=0.9)
    customer = {r: str(n) for n, g in enumerate(resolution.clusters) for r in g}
    marked = {r: "name_only" for r in resolution.name_only}
    assert resolution.shared_values >= 2  # the household's mailbox and landline
    # A steward sees why the household's two were not joined: the pair is a candidate, refused or below.
    near = {frozenset((m.left, m.right)) for m in resolution.review} | {
        frozenset((c.left, c.right)) for c in resolution.conflicts
    }
    assert frozenset((rid["wife"], rid["husband"])) in near
    return {k: customer.get(v, "") for k, v in rid.items()}, {k: marked.get(v, "") for k, v in rid.items()}


def test_a_nickname_and_a_name_written_surname_first_are_one_person(planted: tuple[dict[str, str], ...]) -> None:
    customer, _ = planted
    assert customer["bob"] == customer["robert"] != ""


def test_transliterated_names_with_one_phone_are_one_person(planted: tuple[dict[str, str], ...]) -> None:
    customer, _ = planted
    assert customer["mueller"] == customer["muller"] != ""


def test_gmail_dots_tags_and_googlemail_are_one_mailbox(planted: tuple[dict[str, str], ...]) -> None:
    customer, _ = planted
    assert customer["gmail1"] == customer["gmail2"] != ""


def test_a_household_on_one_mailbox_stays_two_people(planted: tuple[dict[str, str], ...]) -> None:
    customer, _ = planted
    assert customer["wife"] != customer["husband"]


def test_father_and_son_of_one_name_stay_apart(planted: tuple[dict[str, str], ...]) -> None:
    customer, _ = planted
    assert customer["father"] != customer["son"]


def test_one_name_at_one_place_known_to_be_two_people_needs_personal_evidence(
    planted: tuple[dict[str, str], ...],
) -> None:
    customer, _ = planted
    assert customer["f_shop"] == customer["f_app"] != ""
    assert customer["s_shop"] != customer["f_shop"]


def test_a_junior_at_one_place_makes_a_record_of_the_name_alone_ambiguous(planted: tuple[dict[str, str], ...]) -> None:
    customer, _ = planted
    assert customer["either"] not in (customer["jr"], customer["sr"])


def test_a_mailbox_name_that_only_spells_the_name_is_no_evidence_across_providers() -> None:
    from c360.identity.person_match import local_handles

    emails = ("mary.johnson@gmail.com", "mjohnson@yahoo.com", "mary.johnson56@outlook.com", "mj@x.com")
    assert local_handles(emails, "mary", "johnson") == {"mary.johnson56"}
    assert local_handles(emails, None, None) == {"mary.johnson", "mjohnson", "mary.johnson56"}


def test_a_record_with_only_a_name_is_kept_and_marked(planted: tuple[dict[str, str], ...]) -> None:
    customer, marked = planted
    assert customer["only"] != "" and marked["only"] == "name_only"


def test_population_resolves_with_high_precision_and_recall() -> None:
    records, truth = _population(600, seed=9)
    resolution = resolve_people(records, [], threshold=0.9)
    pred = {r: n for n, g in enumerate(resolution.clusters) for r in g}

    def pairs(groups: dict[str, object]) -> set[tuple[str, str]]:
        by: dict[object, list[str]] = {}
        for r, g in groups.items():
            by.setdefault(g, []).append(r)
        return {(a, b) for g in by.values() for i, a in enumerate(sorted(g)) for b in sorted(g)[i + 1 :]}

    true, found = pairs(dict(truth)), pairs({r: pred.get(r, r) for r in truth})
    assert len(true & found) / len(found) >= 0.97
    # About one true pair in seven shares no value at all but a common name: out of reach.
    assert len(true & found) / len(true) >= 0.85


def test_truth_id_column_found_whatever_it_is_called(tmp_path: Path) -> None:
    path = tmp_path / "truth.csv"
    path.write_text("source,source_key,true_person_id\nshop,1,p1\napp,9,p1\n", encoding="utf-8")
    assert [t.entity for t in read_truth(path)] == ["p1", "p1"]
    path.write_text("source,source_key,person,household\nshop,1,p1,h1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="--truth-column"):
        read_truth(path)
    assert [t.entity for t in read_truth(path, "household")] == ["h1"]


def test_placeholder_phone_bad_email_and_initials_are_counted_not_used() -> None:
    attrs = normalise_attributes(
        {
            "first_name": "J",
            "last_name": "S.",
            "phone": ["0000000000", "020 7946 0958"],
            "email": ["n/a", "js@example.org"],
            "country": "GB",
        }
    )
    assert attrs.phones == ("+442079460958",) and attrs.emails == ("js@example.org",)
    assert sorted(attrs.refused) == [
        "email not an address, or a placeholder",
        "name only initials",
        "phone unreadable, or a placeholder",
    ]


def test_a_declared_identifier_outweighs_a_given_name_written_differently() -> None:
    twin_a = Person("olivia", "shepherd", "1932-09-07", None)
    twin_b = Person("connor", "shepherd", "1932-09-07", None)
    assert conflict(twin_a, twin_b) is not None  # twins: one surname, birthday and address
    same_id = frozenset({"national_id:5731308"})
    assert (
        conflict(
            Person("olivia", "shepherd", "1932-09-07", None, same_id),
            Person("connor", "shepherd", "1932-09-07", None, same_id),
        )
        is None
    )
    assert conflict(Person("john", "smith", None, "jr", same_id), Person("john", "smith", None, "sr", same_id))


def test_a_relay_address_is_counted_as_weak_evidence() -> None:
    attrs = normalise_attributes({"person_name": "Ann Lee", "email": "x7hq2@privaterelay.appleid.com"})
    assert attrs.emails == ("x7hq2@privaterelay.appleid.com",)
    assert attrs.refused == ("email a relay address, never found elsewhere",)
