"""Probabilistic matching of people with Splink 5 on DuckDB: one row per record.

The comparisons are a person's: the name by parts (the same name, a short form of the given
name, an initial, the two parts swapped, a new family name with the rest agreeing), the date of
birth (a typo or day and month swapped apart from a different date), e-mail, phone, a contact
value several people share (a family's landline), postcode, city, street address, declared
evidence identifiers and the generation (Jr/Sr). u is estimated by random sampling, m by EM;
the model is saved with the run like the account model.
"""

from __future__ import annotations

import copy
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from c360.core import duck
from c360.identity.matching import (
    PREDICTION_CHUNK,
    U_PAIRS,
    MatchLink,
    MatchOutcome,
    _sane_prior,
    correct_u,
    fill_unobserved_m,
    m_floor,
    sdf_again,
)

# Written into every trained person model; another version's model is never reused.
PERSON_MODEL_VERSION = 2

LIST_COLUMNS = ("given_forms", "family_tokens", "emails", "email_locals", "phones", "shared", "ids")
SCALAR_COLUMNS = (
    "unique_id",
    "given",
    "family",
    "full_key",
    "initial",
    "generation",
    "dob",
    "email1",
    "postcode",
    "city",
    "address",
    "country",
)
# A mailbox's local part compared across providers must be this long, and say more than the name.
_LOCAL_MIN = 5
_SEPARATORS = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class PersonRow:
    """One record as the person matcher compares it (every value already normalised)."""

    rid: str
    given: str | None
    given_forms: tuple[str, ...]
    family: str | None
    generation: str | None
    dob: str | None
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    shared: tuple[str, ...]  # contact values several people hold: weight, never a key
    postcode: str | None
    city: str | None
    address: str | None
    ids: tuple[str, ...]
    country: str | None = None


def local_handles(emails: Sequence[str], given: str | None, family: str | None) -> set[str]:
    """The local parts worth comparing across providers (``ayse.kaya31`` at gmail and at hotmail).

    A local part that only spells the person's own name (``mary.johnson``, ``jsmith``) is left
    out: it says nothing the name does not, and every namesake may hold it somewhere.
    """
    spelled = set()
    if given and family:
        g, f = _SEPARATORS.sub("", given), _SEPARATORS.sub("", family)
        spelled = {g + f, f + g, g[0] + f, f + g[0], g, f}
    out = set()
    for e in emails:
        local = e.split("@")[0].split("+")[0]
        if len(local) >= _LOCAL_MIN and _SEPARATORS.sub("", local) not in spelled:
            out.add(local)
    return out


def _table(rows: Sequence[PersonRow]) -> pa.Table:
    cols: dict[str, list[Any]] = {c: [] for c in (*SCALAR_COLUMNS, *LIST_COLUMNS)}
    for r in rows:
        cols["unique_id"].append(r.rid)
        cols["given"].append(r.given)
        cols["given_forms"].append(list(r.given_forms) or None)
        cols["family"].append(r.family)
        cols["family_tokens"].append(r.family.split() if r.family else None)
        cols["full_key"].append(f"{r.given} {r.family}" if r.given and r.family else None)
        cols["initial"].append(r.given[0] if r.given else None)
        cols["generation"].append(r.generation)
        cols["dob"].append(r.dob)
        cols["emails"].append(list(r.emails) or None)
        cols["email_locals"].append(sorted(local_handles(r.emails, r.given, r.family)) or None)
        cols["email1"].append(r.emails[0] if r.emails else None)
        cols["phones"].append(list(r.phones) or None)
        cols["shared"].append(list(r.shared) or None)
        cols["postcode"].append(r.postcode)
        cols["city"].append(r.city)
        cols["address"].append(r.address)
        cols["country"].append(r.country)
        cols["ids"].append(list(r.ids) or None)
    types = {c: pa.string() if c in SCALAR_COLUMNS else pa.list_(pa.string()) for c in cols}
    return pa.table({c: pa.array(v, types[c]) for c, v in cols.items()})


def _name_comparison() -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    forms = "coalesce(list_has_any(given_forms_l, given_forms_r), false)"
    family_close = (
        "(jaro_winkler_similarity(family_l, family_r) >= 0.92 OR "
        "coalesce(list_has_any(family_tokens_l, family_tokens_r), false))"
    )
    given_close = "jaro_winkler_similarity(given_l, given_r) >= 0.88"
    initial = "((length(given_l) = 1 OR length(given_r) = 1) AND initial_l = initial_r)"
    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.CustomLevel(
                "(given_l IS NULL AND family_l IS NULL) OR (given_r IS NULL AND family_r IS NULL)"
            ).configure(is_null_level=True),
            cll.ExactMatchLevel("full_key", term_frequency_adjustments=True),
            cll.CustomLevel("given_l = family_r AND family_l = given_r", "the same name, parts swapped"),
            cll.CustomLevel(f"family_l = family_r AND {forms}", "a short form of the given name"),
            cll.CustomLevel(f"family_l = family_r AND ({given_close} OR {initial})", "a typo or an initial"),
            cll.CustomLevel(f"{family_close} AND (given_l = given_r OR {forms})", "a family name close"),
            cll.CustomLevel("family_l = family_r AND (given_l IS NULL OR given_r IS NULL)", "family name only"),
            cll.CustomLevel(
                f"(given_l = given_r OR {forms}) AND (family_l IS NULL OR family_r IS NULL)", "given name only"
            ),
            cll.CustomLevel(f"given_l = given_r OR {forms}", "another family name"),
            cll.CustomLevel("family_l = family_r", "another given name"),
            cll.ElseLevel(),
        ],
    )


def _dob_comparison() -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    swapped = (
        "substr(dob_l, 1, 4) = substr(dob_r, 1, 4) AND substr(dob_l, 6, 2) = substr(dob_r, 9, 2) AND "
        "substr(dob_l, 9, 2) = substr(dob_r, 6, 2)"
    )
    return cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.CustomLevel("dob_l = dob_r", "the same date of birth"),
            cll.CustomLevel(
                f"damerau_levenshtein(dob_l, dob_r) <= 1 OR ({swapped})", "a typo, or day and month swapped"
            ),
            cll.ElseLevel(),
        ],
    )


def _overlap(column: str, label: str, *, partial: str | None = None) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    levels: list[Any] = [
        cll.NullLevel(column),
        cll.CustomLevel(f"list_has_any({column}_l, {column}_r)", f"a {label} in common"),
    ]
    if partial:
        levels.append(
            cll.CustomLevel(
                f"coalesce(list_has_any({partial}_l, {partial}_r), false)", f"the same {label} at another provider"
            )
        )
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(output_column_name=label, comparison_levels=levels)


def _exact(column: str, label: str) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name=label,
        comparison_levels=[
            cll.NullLevel(column),
            cll.CustomLevel(f"{column}_l = {column}_r", f"the same {label}"),
            cll.ElseLevel(),
        ],
    )


def _settings() -> Any:
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            _name_comparison(),
            _dob_comparison(),
            _overlap("emails", "email", partial="email_locals"),
            _overlap("phones", "phone"),
            _overlap("shared", "shared_contact"),
            _exact("postcode", "postcode"),
            _exact("city", "city"),
            _exact("address", "address"),
            _overlap("ids", "identifier"),
            _exact("generation", "generation"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("emails", arrays_to_explode=["emails"]),
            block_on("phones", arrays_to_explode=["phones"]),
            block_on("ids", arrays_to_explode=["ids"]),
            block_on("email_locals", arrays_to_explode=["email_locals"]),
            block_on("family", "initial"),
            block_on("given", "dob"),
            block_on("family", "dob"),
            block_on("postcode", "initial"),
            block_on("family", "postcode"),
            block_on("shared", arrays_to_explode=["shared"]),
            {"blocking_rule": "l.given = r.family AND l.family = r.given"},
        ],
        retain_intermediate_calculation_columns=True,
    )


# Where EM starts, and what a comparison falls back to when EM turns it upside down: the share
# of true matches at each level, the null level left out.
M_PRIORS: dict[str, tuple[float, ...]] = {
    "name": (0.6, 0.02, 0.06, 0.06, 0.04, 0.02, 0.02, 0.04, 0.01, 0.13),
    "dob": (0.9, 0.06, 0.04),
    "email": (0.7, 0.05, 0.25),
    "phone": (0.6, 0.4),
    "shared_contact": (0.5, 0.5),
    "postcode": (0.7, 0.3),
    "city": (0.75, 0.25),
    "address": (0.65, 0.35),
    "identifier": (0.8, 0.2),
    "generation": (0.95, 0.05),
}


def _with_priors(model: dict[str, Any]) -> dict[str, Any]:
    for comparison in model.get("comparisons", []):
        priors = M_PRIORS.get(comparison.get("output_column_name", ""))
        levels = [lv for lv in comparison.get("comparison_levels", []) if not lv.get("is_null_level")]
        if priors is not None and len(priors) == len(levels):
            for lv, m in zip(levels, priors, strict=True):
                lv["m_probability"] = m
    return model


def _sane(model: dict[str, Any]) -> dict[str, Any]:
    """An agreement level EM left weighing against a match gets its comparison's priors back."""
    for comparison in model.get("comparisons", []):
        name = comparison.get("output_column_name", "")
        priors = M_PRIORS.get(name)
        levels = [lv for lv in comparison.get("comparison_levels", []) if not lv.get("is_null_level")]
        if priors is None or len(priors) != len(levels):
            continue
        first = levels[0]
        m, u = first.get("m_probability"), first.get("u_probability")
        if isinstance(m, int | float) and isinstance(u, int | float) and m < u:
            logging.getLogger(__name__).warning("comparison %s: EM's estimate ignored; its prior m is used", name)
            for lv, prior in zip(levels, priors, strict=True):
                lv["m_probability"] = prior
    return model


def train(make_linker: Any, seed: int, size: int) -> dict[str, Any]:
    """Estimate the person model: the match rate, u by random sampling, m by two EM sessions."""
    from splink import block_on

    linker = make_linker(_settings())
    try:
        linker.training.estimate_probability_two_random_records_match(
            [block_on("email1"), block_on("given", "family", "dob")], recall=0.7
        )
    except Exception as exc:  # nothing agrees on either rule: the default below
        logging.getLogger(__name__).warning("match rate not estimated: %s", exc)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=seed)
    model: dict[str, Any] = _with_priors(_sane_prior(linker.misc.save_model_to_json(), size))
    # Each session blocks on values that leave the others to learn; one that finds no pairs
    # (no e-mails at all, say) is skipped.
    for rule in (
        "l.email1 = r.email1",
        "l.family = r.family AND l.dob = r.dob",
        "l.dob = r.dob AND l.postcode = r.postcode",
        "l.given = r.given AND l.postcode = r.postcode",
    ):
        linker = make_linker(fill_unobserved_m(copy.deepcopy(model)))
        try:
            with m_floor():
                linker.training.estimate_parameters_using_expectation_maximisation(rule)
        except Exception as exc:  # often: no pair agrees on the rule (a data set without e-mails)
            logging.getLogger(__name__).info("EM blocked on %s skipped: %s", rule, exc)
            continue
        model = _sane_prior(linker.misc.save_model_to_json(), size)
    out = correct_u(fill_unobserved_m(_sane(model)))
    out["c360_model_version"] = PERSON_MODEL_VERSION
    out["c360_grain"] = "person"
    return out


def reusable(model: dict[str, Any] | None) -> bool:
    return (
        model is not None
        and model.get("c360_grain") == "person"
        and model.get("c360_model_version") == PERSON_MODEL_VERSION
    )


def match_people(
    rows: Sequence[PersonRow],
    *,
    floor_bits: float,
    model: dict[str, Any] | None = None,
    model_path: Path | None = None,
    seed: int = 42,
    evidence_bits: float | None = None,
) -> MatchOutcome:
    """Score every candidate pair of records down to ``floor_bits`` of match weight, and with
    ``evidence_bits`` down to a Bayes factor of that many bits (the candidates a steward is shown)."""
    if len(rows) < 2:
        return MatchOutcome([], [], model, False)
    from splink import DuckDBAPI, Linker

    logging.getLogger("splink").setLevel(logging.ERROR)
    con = duck.connect()
    con.register("identity_input_arrow", _table(rows))
    con.execute("CREATE TABLE identity_input AS SELECT * FROM identity_input_arrow")
    db_api = DuckDBAPI(connection=con)
    trained = model is None
    if model is None:
        model = train(lambda settings: Linker(sdf_again(db_api), settings, log_level=None), seed, len(rows))
    linker = Linker(sdf_again(db_api), {k: v for k, v in model.items() if not k.startswith("c360_")}, log_level=None)
    if model_path is not None:
        model_path.parent.mkdir(parents=True, exist_ok=True)
        linker.misc.save_model_to_json(str(model_path), overwrite=True)
    if evidence_bits is not None:
        lam = float(model.get("probability_two_random_records_match") or 0.5)
        floor_bits = min(floor_bits, math.log2(lam / (1 - lam)) + evidence_bits)
    predictions = linker.inference.predict(threshold_match_weight=floor_bits)
    mw_cols = [c for c in predictions.as_duckdbpyrelation().columns if c.startswith("mw_")]
    names = [c[3:] for c in mw_cols]
    wanted = ", ".join(f'"{c}"' for c in ("unique_id_l", "unique_id_r", "match_probability", "match_weight", *mw_cols))
    cursor = con.execute(f"SELECT {wanted} FROM {predictions.physical_name}")
    links: list[MatchLink] = []
    while chunk := cursor.fetchmany(PREDICTION_CHUNK):
        for left, right, probability, bits, *mw in chunk:
            links.append(
                MatchLink(
                    left,
                    right,
                    float(probability),
                    {n: round(float(w), 3) for n, w in zip(names, mw, strict=True) if w is not None},
                    float(bits) if bits is not None and math.isfinite(bits) else None,
                )
            )
    con.close()
    return MatchOutcome(links, [], model, trained)
