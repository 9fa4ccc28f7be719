"""Identity attribute normalisation: examples and properties (totality, idempotence, charset)."""

from __future__ import annotations

import math
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from c360.identity.normalise import (
    ATTRIBUTE_NAMES,
    IdentityAttributes,
    TermFrequencies,
    address,
    company_name,
    corporate_domain,
    country,
    email,
    is_free_mail,
    name_similarity,
    name_tokens,
    normalise_attributes,
    person_name,
    phone,
    postcode,
    registrable_domain,
)

# Arbitrary text, biased towards what identity fields hold: accents, punctuation, legal forms.
FRAGMENTS = st.sampled_from(
    [
        "Ltd", "Limited", "Inc.", "GmbH", "& Co. KG", "S.A.", "LLC", "PLC", "N/A", "-", "&",
        "Nestlé", "Ørsted", "Straße", "İstanbul", "ǅ", "ﬁ", "Ⅻ", "²", "ΐ", "ﬀ", "@", ".", ",",
        "www.", ".co.uk", "https://", "mailto:", "+44", "0", " ", "\t", "\n", "St", "Street",
        "Suite", "#", "sw1a1aa", "12345-6789", "UK", "Mr", "Smith, John", "Jr", "xn--",
    ]
)  # fmt: skip
TEXT = st.one_of(st.text(), st.lists(st.one_of(FRAGMENTS, st.text(max_size=4)), max_size=8).map("".join))
MAYBE_TEXT = st.one_of(st.none(), TEXT)
REGIONS = st.one_of(st.none(), st.sampled_from(["GB", "US", "DE", "UK", "Germany", "XX", ""]))


def is_word_text(value: str) -> bool:
    """Single-spaced lower-case words of letters and digits."""
    return (
        value == value.strip()
        and "  " not in value
        and all(c == " " or c.isalnum() for c in value)
        and value == value.casefold()
    )


# ---------------------------------------------------------------- company names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Acme Ltd", "acme"),
        ("ACME LIMITED", "acme"),
        ("Acme, Inc.", "acme"),
        ("Acme Holdings Ltd", "acme holdings"),
        ("Siemens AG", "siemens"),
        ("Telefónica, S.A.", "telefonica"),
        ("Foo GmbH & Co. KG", "foo"),
        ("Acme Limited LLC", "acme"),
        ("Acme Corp Ltd Inc.", "acme"),
        ("Daddy & Sons, Ltd.", "daddy and sons"),
        ("  Marks   &  Spencer  PLC ", "marks and spencer"),
        ("O'Brien Consulting Ltd", "obrien consulting"),
        ("Ørsted A/S", "orsted"),
        ("Société Générale S.A.", "societe generale"),
        ("Müller-Lüdenscheidt GmbH", "muller ludenscheidt"),
    ],
)
def test_company_name_examples(raw: str, expected: str) -> None:
    assert company_name(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "   ", "n/a", "N/A", "none", "-", "unknown", "TEST", "Ltd"])
def test_company_name_placeholders_are_none(raw: str | None) -> None:
    assert company_name(raw) is None


def test_name_tokens() -> None:
    assert name_tokens("The Global Solutions Group Ltd") == ["the", "global", "solutions", "group"]
    assert name_tokens("n/a") == []
    assert name_tokens(None) == []


@given(MAYBE_TEXT)
def test_company_name_is_total_idempotent_and_clean(raw: str | None) -> None:
    name = company_name(raw)
    if name is None:
        return
    assert name
    assert is_word_text(name)
    assert company_name(name) == name
    assert name_tokens(name) == name.split()


# ---------------------------------------------------------------- name similarity


def test_legal_form_and_rare_words_beat_common_words() -> None:
    same_company = name_similarity("Acme Holdings Ltd", "Acme Ltd")
    different_companies = name_similarity("Global Solutions Inc", "Global Systems Inc")
    assert same_company > different_companies
    assert same_company > 0.9
    assert different_companies < 0.7


def test_similarity_with_a_corpus() -> None:
    corpus = ["Acme Ltd", "Acme Widgets", "Initech", "Initech Group", "Umbrella Group"]
    corpus += [f"Company {i} Group" for i in range(20)]
    tf = TermFrequencies(corpus)
    assert tf.documents == len(corpus)
    assert tf.frequency("group") == 22
    assert tf.weight("umbrella") > tf.weight("acme") > tf.weight("group")
    assert tf.weight("neverseen") >= tf.weight("umbrella")
    # Sharing a frequent word is weak evidence; sharing a rare one is strong.
    assert name_similarity("Initech Group", "Umbrella Group", tf) < 0.5
    assert name_similarity("Initech Group", "Initech", tf) > 0.9


def test_similarity_tolerates_misspelt_tokens() -> None:
    assert name_similarity("Northwind Traders", "Northwnid Traders") > 0.8
    assert name_similarity("Northwind Traders", "Contoso Pharmaceuticals") < 0.2


def test_similarity_edge_values() -> None:
    assert name_similarity("Acme Ltd", "ACME LIMITED") == 1.0
    assert name_similarity("Acme", None) == 0.0
    assert name_similarity("n/a", "n/a") == 0.0


@given(MAYBE_TEXT, MAYBE_TEXT)
def test_similarity_is_bounded_and_symmetric(a: str | None, b: str | None) -> None:
    score = name_similarity(a, b)
    assert 0.0 <= score <= 1.0
    assert math.isclose(score, name_similarity(b, a), abs_tol=1e-9)


# ---------------------------------------------------------------- domains and e-mail


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Northwind.co.uk/about", "northwind.co.uk"),
        ("billing@eu.acme.com", "acme.com"),
        ("acme.com", "acme.com"),
        ("WWW.ACME.COM.", "acme.com"),
        ("http://user:secret@shop.acme.de:8080/x?y=1#z", "acme.de"),
        ("acme.github.io", "acme.github.io"),
        ("münchen.de", "xn--mnchen-3ya.de"),
    ],
)
def test_registrable_domain_examples(raw: str, expected: str) -> None:
    assert registrable_domain(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [None, "", "n/a", "localhost", "-", "http://", "10.0.0.1", "http://192.168.1.1/admin",
     "[::1]", "acme", "Acme Ltd", "co.uk", "acme.notatld", "acme..com"],
)  # fmt: skip
def test_registrable_domain_junk_is_none(raw: str | None) -> None:
    assert registrable_domain(raw) is None


@given(MAYBE_TEXT)
def test_registrable_domain_is_total_idempotent_and_clean(raw: str | None) -> None:
    domain = registrable_domain(raw)
    if domain is None:
        return
    assert set(domain) <= set(string.ascii_lowercase + string.digits + ".-")
    assert "." in domain
    assert registrable_domain(domain) == domain


def test_free_mail() -> None:
    assert is_free_mail("gmail.com")
    assert is_free_mail("GMAIL.COM")
    assert is_free_mail("proton.me")  # one of ours, on top of the package's list
    assert is_free_mail("hey.com")
    assert is_free_mail("jo@mail.yahoo.co.uk")
    assert not is_free_mail("acme.com")
    assert not is_free_mail(None)
    assert not is_free_mail("n/a")


def test_corporate_domain_never_returns_free_mail() -> None:
    assert corporate_domain("Jane@Sales.Acme.co.uk") == "acme.co.uk"
    assert corporate_domain("https://acme.com") == "acme.com"
    assert corporate_domain("jane@gmail.com") is None
    assert corporate_domain("jane@hotmail.co.uk") is None
    assert corporate_domain("jane@pm.me") is None
    assert corporate_domain("n/a") is None


@given(MAYBE_TEXT)
def test_corporate_domain_is_a_registrable_non_free_domain(raw: str | None) -> None:
    domain = corporate_domain(raw)
    if domain is not None:
        assert domain == registrable_domain(raw)
        assert not is_free_mail(domain)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Jane.Doe@Acme.COM ", "jane.doe@acme.com"),
        ("<jane@acme.com>", "jane@acme.com"),
        ("mailto:jane+billing@acme.co.uk", "jane+billing@acme.co.uk"),
        ("jane@acme.com.", "jane@acme.com"),
        ("jo@Bücher.de", "jo@xn--bcher-kva.de"),
    ],
)
def test_email_examples(raw: str, expected: str) -> None:
    assert email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [None, "", "n/a", "jane", "jane@", "@acme.com", "jane@acme", "jane@@acme.com",
     "a@b@acme.com", "jane doe@acme.com", "jane..doe@acme.com", ".jane@acme.com",
     "jane@acme..com", "jane@-acme.com", "jane@10.0.0.1", "none@none.com", "jane@acme.c0m"],
)  # fmt: skip
def test_email_junk_is_none(raw: str | None) -> None:
    assert email(raw) is None


@given(MAYBE_TEXT)
def test_email_is_total_idempotent_and_clean(raw: str | None) -> None:
    value = email(raw)
    if value is None:
        return
    assert value.count("@") == 1
    local, domain = value.split("@")
    assert local and "." in domain
    assert value == value.lower().strip() and value.isascii()
    assert email(value) == value


ORDINARY_EMAILS = st.from_regex(r"[A-Za-z0-9._%+-]{1,20}@[A-Za-z0-9-]{1,20}\.(com|co\.uk|io|de)", fullmatch=True)


@given(ORDINARY_EMAILS)
def test_email_accepts_ordinary_addresses(raw: str) -> None:
    local, domain = raw.lower().split("@")
    value = email(raw)
    structurally_valid = (
        not local.startswith(".")
        and not local.endswith(".")
        and ".." not in local
        and not domain.startswith("-")
        and not domain.split(".")[0].endswith("-")
        and local not in {"na", "none", "null", "nil", "unknown", "test", "noemail"}
    )
    assert (value == raw.lower()) if structurally_valid else value is None


# ---------------------------------------------------------------- phone


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("020 7946 0958", "GB", "+442079460958"),
        ("020 7946 0958", "UK", "+442079460958"),
        ("+44 (0)20 7946 0958", None, "+442079460958"),
        ("+44 20 7946 0958 ext. 12", None, "+442079460958"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("030 1234567", "Germany", "+49301234567"),
        ("+442079460958", "US", "+442079460958"),
    ],
)
def test_phone_examples(raw: str, region: str | None, expected: str) -> None:
    assert phone(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region"),
    [(None, "GB"), ("", "GB"), ("0000", "GB"), ("123", "US"), ("+1 111 111 1111", None),
     ("0000000000", "GB"), ("020 7946 0958", None), ("n/a", "GB"), ("+44 12", None),
     ("call me", "US"), ("9" * 40, "US")],
)  # fmt: skip
def test_phone_invalid_is_none(raw: str | None, region: str | None) -> None:
    assert phone(raw, region) is None


@given(MAYBE_TEXT, REGIONS)
def test_phone_is_total_and_idempotent(raw: str | None, region: str | None) -> None:
    value = phone(raw, region)
    if value is None:
        return
    assert value.startswith("+") and value[1:].isdigit()
    assert phone(value, None) == value
    assert phone(value, "DE") == value


@given(st.from_regex(r"07[0-9]{9}", fullmatch=True))
def test_phone_does_not_depend_on_how_the_number_is_written(raw: str) -> None:
    value = phone(raw, "GB")
    assert value in (None, "+44" + raw[1:])
    written_differently = f"+44 (0){raw[1:5]} {raw[5:8]}-{raw[8:]}"
    assert phone(written_differently, None) == value
    assert phone(f"0044{raw[1:]}", "DE") == value  # 00 is the international prefix in DE


# ---------------------------------------------------------------- country


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("United Kingdom", "GB"), ("UK", "GB"), ("uk", "GB"), ("GB", "GB"),
        ("Great Britain", "GB"), ("England", "GB"), ("Scotland", "GB"), ("GBR", "GB"),
        ("USA", "US"), ("U.S.A.", "US"), ("United States", "US"), ("us", "US"),
        ("United States of America", "US"), ("Deutschland", "DE"), ("Germany", "DE"),
        ("DE", "DE"), ("germany ", "DE"), ("France", "FR"), ("Côte d'Ivoire", "CI"),
        ("Türkiye", "TR"), ("Turkey", "TR"), ("Namibia", "NA"), ("NA", "NA"),
        ("Untied Kingdom", "GB"), ("Germny", "DE"),
        ("en-GB", "GB"), ("da_DK", "DK"), ("tr-tr", "TR"), ("pt-Latn-BR", "BR"), ("US-CA", "US"), ("EN-GB", "GB"),
    ],
)  # fmt: skip
def test_country_examples(raw: str, expected: str) -> None:
    assert country(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "n/a", "N/A", "-", "unknown", "test", "asdfgh", "XX", "en-QQ", "de_DE_x"])
def test_country_unknown_is_none(raw: str | None) -> None:
    assert country(raw) is None


@settings(max_examples=50)
@given(MAYBE_TEXT)
def test_country_is_total_and_idempotent(raw: str | None) -> None:
    code = country(raw)
    if code is not None:
        assert len(code) == 2 and code.isascii() and code.isupper()
        assert country(code) == code


# ---------------------------------------------------------------- postcode


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("sw1a1aa", "GB", "SW1A 1AA"),
        (" SW1A   1AA ", "United Kingdom", "SW1A 1AA"),
        ("ec1a 1bb", None, "EC1A 1BB"),
        ("m11ae", "GB", "M1 1AE"),
        ("12345-6789", "US", "12345"),
        ("123456789", "USA", "12345"),
        ("12345-6789", None, "12345"),
        ("2134", "US", "02134"),
        ("10115", "DE", "10115"),
        ("1012ab", "NL", "1012 AB"),
        ("k1a0b1", "Canada", "K1A 0B1"),
        ("d02x285", "IE", "D02 X285"),
        ("11455", "SE", "114 55"),
        ("00-950", "PL", "00-950"),
        ("75008", None, "75008"),
    ],
)
def test_postcode_examples(raw: str, region: str | None, expected: str) -> None:
    assert postcode(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region"),
    [(None, "GB"), ("", None), ("n/a", None), ("-", "US"), ("none", None), ("00000", "US"),
     ("XXXX", None), ("hello", "GB"), ("1234567", "US"), ("ABC123", "GB"), ("1234", "DE"),
     ("12", None), ("SW1A 1AA; DROP", None)],
)  # fmt: skip
def test_postcode_junk_is_none(raw: str | None, region: str | None) -> None:
    assert postcode(raw, region) is None


@given(MAYBE_TEXT, st.one_of(st.none(), st.sampled_from(["GB", "US", "CA", "NL", "IE", "DE"])))
def test_postcode_is_total_idempotent_and_clean(raw: str | None, region: str | None) -> None:
    value = postcode(raw, region)
    if value is None:
        return
    assert set(value) <= set(string.ascii_uppercase + string.digits + " -")
    assert value == value.strip() and "  " not in value
    assert postcode(value, region) == value


# ---------------------------------------------------------------- address and person


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10 Downing Street", "10 downing st"),
        ("10 DOWNING ST.", "10 downing st"),
        ("Suite #200, 1 Main Street", "ste 200 1 main st"),
        ("Ste. 200, 1 Main St", "ste 200 1 main st"),
        ("Flat 3, 22 Acacia Avenue", "flat 3 22 acacia ave"),
        ("Unit 4B, Floor 2, Mill Road", "unit 4b fl 2 mill rd"),
        ("5th Floor, 1 Königstraße", "5th fl 1 konigstrasse"),
    ],
)
def test_address_examples(raw: str, expected: str) -> None:
    assert address(raw) == expected


@given(MAYBE_TEXT)
def test_address_is_total_idempotent_and_clean(raw: str | None) -> None:
    value = address(raw)
    if value is not None:
        assert value and is_word_text(value)
        assert address(value) == value


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("John Smith", "john smith"),
        ("SMITH, John", "john smith"),
        ("Dr. John Smith Jr.", "john smith"),
        ("John Smith, PhD", "john smith"),
        ("José Álvarez-García", "jose alvarez garcia"),
        ("Mary Ann O'Neill", "mary ann oneill"),
        ("n/a", None),
        ("jane@acme.com", None),
        (None, None),
    ],
)
def test_person_name_examples(raw: str | None, expected: str | None) -> None:
    assert person_name(raw) == expected


@given(MAYBE_TEXT)
def test_person_name_is_total_idempotent_and_clean(raw: str | None) -> None:
    value = person_name(raw)
    if value is not None:
        assert value and is_word_text(value)
        assert person_name(value) == value


# ---------------------------------------------------------------- a whole record


def test_normalise_attributes_record() -> None:
    attrs = normalise_attributes(
        {
            "name": "Northwind Traders Ltd.",
            "web_domain": "https://www.northwind.co.uk/contact",
            "email": " Billing@Northwind.co.uk ",
            "phone": "020 7946 0958",
            "address": "Suite 5, 12 High Street",
            "postcode": "sw1a1aa",
            "country": "United Kingdom",
            "person_name": "DOE, Jane",
            "crm_account_id": "001XYZ",  # a cross-reference: not an attribute, ignored here
        }
    )
    assert attrs == IdentityAttributes(
        name="northwind traders",
        name_tokens=("northwind", "traders"),
        web_domain="northwind.co.uk",
        email="billing@northwind.co.uk",
        email_domain="northwind.co.uk",
        phone="+442079460958",
        address="ste 5 12 high st",
        postcode="SW1A 1AA",
        country="GB",
        person_name="jane doe",
        given_name="jane",
        family_name="doe",
        emails=("billing@northwind.co.uk",),
        phones=("+442079460958",),
    )


def test_normalise_attributes_free_mail_and_defaults() -> None:
    attrs = normalise_attributes(
        {"email": "jo@gmail.com", "phone": 4155552671, "postcode": 2134.0, "name": float("nan")}, default_region="US"
    )
    assert attrs.email == "jo@gmail.com"
    assert attrs.email_domain is None  # free mail is never company evidence
    assert attrs.phone == "+14155552671"
    assert attrs.postcode == "2134"  # no country: kept as given, not guessed as a US ZIP
    assert attrs.name is None and attrs.name_tokens is None


def test_normalise_attributes_record_country_beats_default_region() -> None:
    attrs = normalise_attributes({"phone": "030 1234567", "country": "DE"}, default_region="GB")
    assert attrs.phone == "+49301234567"
    assert normalise_attributes({}) == IdentityAttributes()


def test_attribute_names() -> None:
    assert ATTRIBUTE_NAMES == (
        "name", "web_domain", "email", "phone", "address", "postcode", "city", "country", "person_name",
        "first_name", "last_name", "dob",
    )  # fmt: skip
    assert "crm_account_id" not in ATTRIBUTE_NAMES


@settings(max_examples=50)
@given(
    st.dictionaries(
        st.sampled_from([*ATTRIBUTE_NAMES, "crm_account_id"]),
        st.one_of(MAYBE_TEXT, st.integers(), st.floats(), st.booleans(), st.lists(st.text())),
    ),
    REGIONS,
)
def test_normalise_attributes_is_total(raw: dict[str, object], region: str | None) -> None:
    attrs = normalise_attributes(raw, default_region=region)
    assert isinstance(attrs, IdentityAttributes)
    if attrs.name is not None:
        assert attrs.name_tokens == tuple(attrs.name.split())
    if attrs.email_domain is not None:
        assert attrs.email is not None and attrs.email.endswith(attrs.email_domain)


def test_records_of_one_company_share_its_values_and_rid_is_made_once() -> None:
    from c360.identity.records import make_record

    one = make_record("crm", "1", {"name": "Name", "web_domain": "Web"}, {"Name": "Acme Ltd", "Web": "acme.com"})
    two = make_record("billing", "9", {"name": "N", "email": "E"}, {"N": "ACME LIMITED", "E": "ap@acme.com"})
    assert one.attrs.name == two.attrs.name == "acme"
    assert one.attrs.name is two.attrs.name
    assert one.domain is two.domain
    assert one.rid == "crm:1" and one.rid is one.rid
    assert one.refs == {} and one.refs is two.refs


def test_cities_compare_in_one_form_whatever_the_spelling() -> None:
    from c360.identity.places import city

    assert city("München") == city("Munich") == city("Muenchen") == "munchen"
    assert city("Paris Cedex 08") == city("PARIS") == "paris"
    assert city("Newcastle upon Tyne") == city("Newcastle") == "newcastle"
    assert city("'s-Gravenhage") == city("The Hague") == city("Den Haag")
    assert city("n/a") is None and city("") is None


def test_country_codes_and_names_in_other_languages() -> None:
    from c360.identity.places import country

    assert [country(x) for x in ("GER", "Holland", "England", "Deutschland", "NED", "Allemagne", "Pays-Bas")] == [
        "DE",
        "NL",
        "GB",
        "DE",
        "NL",
        "DE",
        "NL",
    ]
