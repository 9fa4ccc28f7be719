"""Word lists for the demo data: places, people, company words, ticket subjects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class City:
    """A city with its postcode pattern, phone number template and standard UTC offset.

    Patterns: ``#`` is any digit, ``N`` a digit 2-9, ``@`` an upper-case letter; the rest is
    literal. Phone templates are the national significant number, grouped by spaces.
    """

    name: str
    postcodes: tuple[str, ...]
    phone: str
    utc_offset: int  # hours, standard time


@dataclass(frozen=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    names: tuple[str, ...]  # the forms a CRM user types; the first is canonical
    name_weights: tuple[int, ...]
    dialing_code: str
    trunk: str  # national trunk prefix
    currency: str
    suffixes: tuple[str, ...]
    tlds: tuple[str, ...]
    culture: str
    dst: bool
    cities: tuple[City, ...]


COUNTRIES: dict[str, Country] = {
    "GB": Country(
        "GB",
        ("United Kingdom", "UK", "GB", "Great Britain", "England", "U.K."),
        (40, 25, 12, 8, 10, 5),
        "44",
        "0",
        "gbp",
        ("Ltd", "Limited", "PLC", "LLP"),
        ("co.uk", "com", "uk"),
        "en",
        True,
        (
            City(
                "London",
                ("EC1A #@@", "EC2M #@@", "WC2N #@@", "SE1 #@@", "E14 #@@", "W1D #@@", "N1 #@@"),
                "20 7### ####",
                0,
            ),
            City("Manchester", ("M1 #@@", "M2 #@@", "M4 #@@"), "161 N## ####", 0),
            City("Birmingham", ("B1 #@@", "B2 #@@", "B3 #@@"), "121 4## ####", 0),
            City("Leeds", ("LS1 #@@", "LS2 #@@", "LS11 #@@"), "113 2## ####", 0),
            City("Bristol", ("BS1 #@@", "BS2 #@@", "BS8 #@@"), "117 9## ####", 0),
            City("Edinburgh", ("EH1 #@@", "EH2 #@@", "EH3 #@@"), "131 2## ####", 0),
            City("Glasgow", ("G1 #@@", "G2 #@@", "G3 #@@"), "141 N## ####", 0),
            City("Liverpool", ("L1 #@@", "L2 #@@", "L3 #@@"), "151 N## ####", 0),
            City("Sheffield", ("S1 #@@", "S2 #@@", "S3 #@@"), "114 2## ####", 0),
            City("Nottingham", ("NG1 #@@", "NG2 #@@", "NG7 #@@"), "115 9## ####", 0),
        ),
    ),
    "US": Country(
        "US",
        ("United States", "USA", "US", "United States of America", "U.S."),
        (35, 35, 15, 10, 5),
        "1",
        "",
        "usd",
        ("Inc.", "Inc", "LLC", "Corp."),
        ("com", "io", "us"),
        "en",
        True,
        (
            City("New York", ("100##", "101##"), "212 N## ####", -5),
            City("San Francisco", ("941##",), "415 N## ####", -8),
            City("Chicago", ("606##",), "312 N## ####", -6),
            City("Austin", ("787##",), "512 N## ####", -6),
            City("Boston", ("021##",), "617 N## ####", -5),
            City("Seattle", ("981##",), "206 N## ####", -8),
            City("Denver", ("802##",), "303 N## ####", -7),
            City("Atlanta", ("303##",), "404 N## ####", -5),
        ),
    ),
    "DE": Country(
        "DE",
        ("Germany", "DE", "Deutschland"),
        (60, 30, 10),
        "49",
        "0",
        "eur",
        ("GmbH", "AG", "GmbH & Co. KG"),
        ("de", "com"),
        "de",
        True,
        (
            City("Berlin", ("10###", "12###"), "30 N#######", 1),
            City("München", ("80###", "81###"), "89 N#######", 1),
            City("Hamburg", ("20###", "22###"), "40 N#######", 1),
            City("Frankfurt am Main", ("60###",), "69 N#######", 1),
            City("Köln", ("50###",), "221 N######", 1),
            City("Stuttgart", ("70###",), "711 N######", 1),
        ),
    ),
    "FR": Country(
        "FR",
        ("France", "FR"),
        (75, 25),
        "33",
        "0",
        "eur",
        ("SAS", "SA", "SARL"),
        ("fr", "com"),
        "fr",
        True,
        (
            City("Paris", ("750##",), "1 4# ## ## ##", 1),
            City("Lyon", ("6900#",), "4 7# ## ## ##", 1),
            City("Marseille", ("130##",), "4 91 ## ## ##", 1),
            City("Toulouse", ("310##",), "5 61 ## ## ##", 1),
            City("Bordeaux", ("330##",), "5 56 ## ## ##", 1),
            City("Lille", ("590##",), "3 20 ## ## ##", 1),
            City("Nantes", ("440##",), "2 40 ## ## ##", 1),
        ),
    ),
    "JP": Country(
        "JP",
        ("Japan", "JP"),
        (80, 20),
        "81",
        "0",
        "jpy",
        ("K.K.", "Co., Ltd."),
        ("co.jp", "jp", "com"),
        "ja",
        False,
        (
            City("Tokyo", ("100-####", "105-####", "160-####"), "3 N### ####", 9),
            City("Osaka", ("530-####", "541-####"), "6 N### ####", 9),
            City("Nagoya", ("450-####", "460-####"), "52 N## ####", 9),
            City("Yokohama", ("220-####", "231-####"), "45 N## ####", 9),
            City("Fukuoka", ("810-####", "812-####"), "92 N## ####", 9),
            City("Sapporo", ("060-####",), "11 2## ####", 9),
        ),
    ),
    "NL": Country(
        "NL",
        ("Netherlands", "NL", "The Netherlands", "Holland"),
        (50, 25, 20, 5),
        "31",
        "0",
        "eur",
        ("B.V.", "N.V."),
        ("nl", "com"),
        "nl",
        True,
        (
            City("Amsterdam", ("10## @@",), "20 N## ####", 1),
            City("Rotterdam", ("30## @@",), "10 N## ####", 1),
            City("Utrecht", ("35## @@",), "30 N## ####", 1),
            City("Eindhoven", ("56## @@",), "40 N## ####", 1),
            City("Den Haag", ("25## @@",), "70 N## ####", 1),
        ),
    ),
    "IE": Country(
        "IE",
        ("Ireland", "IE", "Republic of Ireland"),
        (70, 20, 10),
        "353",
        "0",
        "eur",
        ("Ltd", "Limited", "DAC"),
        ("ie", "com"),
        "en",
        True,
        (
            City("Dublin", ("D02 @##@", "D04 @##@", "D08 @##@"), "1 N## ####", 0),
            City("Cork", ("T12 @##@",), "21 N## ####", 0),
            City("Galway", ("H91 @##@",), "91 5## ###", 0),
            City("Limerick", ("V94 @##@",), "61 4## ###", 0),
        ),
    ),
}

COUNTRY_WEIGHTS: dict[str, int] = {"GB": 30, "US": 30, "DE": 12, "FR": 9, "JP": 6, "NL": 8, "IE": 5}

# Legal forms a second system writes differently from the CRM.
SUFFIX_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "Ltd": ("Limited", "Ltd."),
    "Limited": ("Ltd", "LTD"),
    "PLC": ("plc", "Public Limited Company"),
    "LLP": ("L.L.P.",),
    "Inc.": ("Inc", "Incorporated"),
    "Inc": ("Inc.", "Incorporated"),
    "LLC": ("L.L.C.", "Llc"),
    "Corp.": ("Corporation", "Corp"),
    "GmbH": ("Gmbh", "G.m.b.H."),
    "AG": ("Aktiengesellschaft",),
    "GmbH & Co. KG": ("GmbH & Co KG",),
    "SAS": ("S.A.S.",),
    "SA": ("S.A.",),
    "SARL": ("S.A.R.L.", "Sàrl"),
    "K.K.": ("Kabushiki Kaisha", "KK"),
    "Co., Ltd.": ("Co. Ltd", "Company Limited"),
    "B.V.": ("BV",),
    "N.V.": ("NV",),
    "DAC": ("D.A.C.",),
}


# Sector word -> Salesforce Industry picklist value.
SECTORS: dict[str, str] = {
    "Trading": "Retail",
    "Logistics": "Transportation",
    "Analytics": "Technology",
    "Foods": "Food & Beverage",
    "Engineering": "Engineering",
    "Software": "Technology",
    "Systems": "Technology",
    "Consulting": "Consulting",
    "Partners": "Consulting",
    "Health": "Healthcare",
    "Labs": "Biotechnology",
    "Energy": "Energy",
    "Media": "Media",
    "Capital": "Finance",
    "Insurance": "Insurance",
    "Construction": "Construction",
    "Freight": "Shipping",
    "Textiles": "Apparel",
    "Hotels": "Hospitality",
    "Telecom": "Telecommunications",
    "Robotics": "Machinery",
    "Pharma": "Biotechnology",
    "Studios": "Entertainment",
    "Solar": "Energy",
    "Security": "Technology",
    "Finance": "Finance",
    "Digital": "Technology",
    "Retail": "Retail",
    "Motors": "Manufacturing",
    "Instruments": "Electronics",
    "Electronics": "Electronics",
    "Chemicals": "Chemicals",
    "Farms": "Agriculture",
    "Learning": "Education",
    "Design": "Consulting",
    "Marine": "Shipping",
    "Outdoor": "Recreation",
    "Brewing": "Food & Beverage",
    "Print": "Media",
    "Networks": "Communications",
    "Data": "Technology",
    "Cloud": "Technology",
    "Dynamics": "Manufacturing",
    "Industries": "Manufacturing",
    "Bank": "Banking",
    "Care": "Not For Profit",
    "Utilities": "Utilities",
    "Kitchens": "Food & Beverage",
    "Clinics": "Healthcare",
}

# For names of distinct companies that are one letter or one word form apart.
NEAR_SECTORS: dict[str, str] = {
    "Trading": "Traders",
    "Logistics": "Logistic",
    "Systems": "System",
    "Foods": "Food",
    "Partners": "Partnership",
    "Consulting": "Consultants",
    "Engineering": "Engineers",
    "Labs": "Laboratories",
    "Studios": "Studio",
    "Networks": "Network",
    "Motors": "Motor",
    "Hotels": "Hotel",
    "Farms": "Farm",
    "Clinics": "Clinic",
    "Kitchens": "Kitchen",
    "Instruments": "Instrumentation",
    "Industries": "Industrial",
    "Digital": "Digitals",
}

HOLDING_WORDS: tuple[str, ...] = ("Holdings", "Group", "Enterprises", "Ventures", "Investments")


# Long and short forms of the same street word: billing and CRM rarely agree on which.
STREET_ABBREVIATIONS: dict[str, str] = {
    " Street": " St",
    " Road": " Rd",
    " Avenue": " Ave",
    " Lane": " Ln",
    " Square": " Sq",
    " Boulevard": " Blvd",
    "straße": "str.",
    "rue ": "r. ",
    "avenue ": "av. ",
}

FREE_MAIL_DOMAINS: tuple[str, ...] = ("gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com", "proton.me")

ROLE_MAILBOXES: tuple[str, ...] = ("billing", "accounts", "finance", "invoices", "ap")


TICKET_PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")


# The long lists (name parts, street names, prefixes, ticket subjects) are data, kept in _words.json.
_DATA: dict[str, Any] = json.loads(resources.files("c360.demo").joinpath("_words.json").read_text("utf-8"))
PREFIXES: tuple[str, ...] = tuple(_DATA["prefixes"])
LOCAL_PREFIXES: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _DATA["local_prefixes"].items()}
FIRST_NAMES: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _DATA["first_names"].items()}
LAST_NAMES: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _DATA["last_names"].items()}
STREET_NAMES: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _DATA["street_names"].items()}
TICKET_SUBJECTS: tuple[str, ...] = tuple(_DATA["ticket_subjects"])
SALES_OWNERS: tuple[str, ...] = tuple(_DATA["sales_owners"])
