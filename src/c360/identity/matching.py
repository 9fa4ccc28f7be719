"""Probabilistic matching with Splink 5 on DuckDB: blocking, comparisons, training, scoring.

The model is trained on each run (u by bounded random sampling with a fixed seed,
m by expectation maximisation) and saved as JSON beside the run, so any result
can be reproduced and explained.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from c360.core import duck
from c360.identity.records import IdentityRecord

COLUMNS = ("name", "name_first", "name_compact", "name_tokens", "domain", "email", "phone", "postcode",
           "person_name")


# Prediction rows fetched from DuckDB at a time.
PREDICTION_CHUNK = 50_000


@dataclass(frozen=True, slots=True)
class MatchLink:
    left: str
    right: str
    probability: float
    weights: dict[str, float]


def _table(records: Sequence[IdentityRecord]) -> pa.Table:
    cols: dict[str, list[Any]] = {c: [] for c in ("unique_id", "source", *COLUMNS)}
    for r in records:
        a = r.attrs
        toks = (a.name or "").split()
        cols["unique_id"].append(r.rid)
        cols["source"].append(r.source)
        cols["name"].append(a.name)
        cols["name_first"].append(toks[0] if toks else None)
        cols["name_tokens"].append(toks or None)
        cols["name_compact"].append("".join(toks) or None)
        cols["domain"].append(r.domain)
        cols["email"].append(a.email)
        cols["phone"].append(a.phone)
        cols["postcode"].append(a.postcode)
        cols["person_name"].append(a.person_name)
    return pa.table(cols)


def _name_comparison() -> Any:
    """Company names, graded by how they agree.

    No term-frequency adjustment: at account grain one company's name recurs in every system
    that knows it, which TF would read as a common (weak) name. A one-word name agreeing
    ("ivory") is weaker evidence than several words agreeing, a typo is close, and one name
    inside the other ("ivory" within "ivory media") is partial evidence that training weighs.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name"),
            cll.CustomLevel("name_l = name_r AND contains(name_l, ' ')", "exact, several words"),
            cll.ExactMatchLevel("name").configure(label_for_charts="exact, one word"),
            # A workspace slug ("harbourgarnetdata") against the name it was made from.
            cll.CustomLevel("replace(name_l, ' ', '') = replace(name_r, ' ', '')", "same letters, spaced apart"),
            cll.DamerauLevenshteinLevel("name", 2).configure(label_for_charts="a typo or two"),
            cll.ArraySubsetLevel("name_tokens").configure(label_for_charts="one name within the other"),
            cll.JaroWinklerLevel("name", 0.92),
            cll.ElseLevel(),
        ],
    )


def _settings(grain: str) -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    comparisons: list[Any] = [
        _name_comparison(),
        cl.ExactMatch("domain"),
        cl.ExactMatch("email"),
        cl.ExactMatch("phone"),
        cl.ExactMatch("postcode"),
    ]
    if grain == "person":
        comparisons.append(cl.JaroWinklerAtThresholds("person_name", [0.95, 0.88]))
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[
            block_on("domain"),
            block_on("name_compact"),
            block_on("email"),
            block_on("phone"),
            block_on("name_first", "postcode"),
            *([block_on("person_name")] if grain == "person" else []),
        ],
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=["source"],
    )


def correct_u(model: dict[str, Any]) -> dict[str, Any]:
    """Take the true matches out of the u probabilities estimated by random sampling.

    Random pairs are assumed to be non-matches. At account grain they are not quite: every
    account contributes several records, so among random pairs the share of true matches
    (lambda) is of the same order as a strong attribute's chance agreement, and a corporate
    domain looks far more common among non-matches than it is. A random pair agrees at a
    level with probability ``lambda * m + (1 - lambda) * u``; solving for ``u`` removes the
    matches' share. The floor keeps every weight finite.
    """
    lam = float(model.get("probability_two_random_records_match") or 0.0)
    for comparison in model.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            m, u = level.get("m_probability"), level.get("u_probability")
            if m is None or u is None:
                continue
            level["u_probability"] = max((u - lam * m) / (1.0 - lam), u * 0.01, 1e-9)
    return model


def sdf_again(db_api: Any) -> Any:
    return db_api.register("identity_input", table_name=f"identity_input_{len(db_api._registered_table_names)}")


@dataclass
class MatchOutcome:
    links: list[MatchLink]  # at or above the threshold
    review: list[MatchLink]  # below it, down to the review threshold
    model: dict[str, Any] | None  # the Splink model that scored them
    trained: bool  # trained on this input (else a stored model was reused)


# The m probability given to a level that EM never saw among matches (e.g. two phone numbers
# that differ, when every matched pair so far agreed or lacked one).
UNOBSERVED_M = 0.01


def fill_unobserved_m(model: dict[str, Any]) -> dict[str, Any]:
    """Give each level that EM never observed among matches a modest m, not a near-zero one.

    Splink scores an unobserved level with m = 1e-6, i.e. as ~20 bits of evidence against a
    match. The next EM session then finds no match at that level, drives its m to exactly 0,
    and Splink refuses the value mid-session. A level unseen in one training block is not
    evidence that matches never show it. Comparisons with no trained level are left for EM.
    """
    for comparison in model.get("comparisons", []):
        levels = [lv for lv in comparison.get("comparison_levels", []) if not lv.get("is_null_level")]
        missing = {id(lv) for lv in levels if not isinstance(lv.get("m_probability"), int | float)}
        if not missing or len(missing) == len(levels):
            continue
        scale = 1.0 - UNOBSERVED_M * len(missing)
        for lv in levels:
            lv["m_probability"] = UNOBSERVED_M if id(lv) in missing else lv["m_probability"] * scale
    return model


# EM drives the m of a level met only among non-matches towards 0 (each iteration roughly
# squares it) and Splink refuses an m of exactly 0 mid-session. Such a level is very strong
# evidence against a match, and is kept as that: floored at EM_M_FLOOR, about -40 bits.
EM_M_FLOOR = 1e-12


@contextlib.contextmanager
def m_floor() -> Iterator[None]:
    """While inside, EM's new m probabilities are floored at :data:`EM_M_FLOOR`."""
    try:
        from splink.internals import expectation_maximisation as em

        populate = em.populate_m_u_from_lookup
    except (ImportError, AttributeError):  # another Splink: a failing session is dropped instead
        yield
        return

    def floored(fixed: Any, level: Any, column: str, lookup: dict[str, dict[int, Any]]) -> None:
        entry = lookup.get(column, {}).get(level.comparison_vector_value)
        if isinstance(entry, dict):
            m = entry.get("m_probability")
            if isinstance(m, int | float) and m < EM_M_FLOOR:
                lookup[column][level.comparison_vector_value] = {**entry, "m_probability": EM_M_FLOOR}
        populate(fixed, level, column, lookup)

    setattr(em, "populate_m_u_from_lookup", floored)  # noqa: B010 - Splink's own name, put back below
    try:
        yield
    finally:
        setattr(em, "populate_m_u_from_lookup", populate)  # noqa: B010


def train(make_linker: Callable[[dict[str, Any] | Any], Any], grain: str, seed: int) -> dict[str, Any]:
    """Estimate the model's parameters; returns it as Splink JSON.

    ``make_linker(settings)`` builds a linker on the input. Each EM session starts from the
    model saved after the one before, so a session that fails (EM can fail to converge on
    tiny or degenerate inputs) is dropped whole instead of leaving its half-changed state
    (a comparison taken out while it is blocked on, the session's match rate) in the model.
    """
    from splink import block_on

    # Training follows the grain: accounts agree on a company's domain and name, people on an
    # e-mail address and a person's name. Each EM pass blocks on one and learns the others.
    deterministic: list[Any]
    if grain == "person":
        deterministic = [block_on("email")]
        em_rules = (block_on("email"), block_on("person_name"))
    else:
        deterministic = [block_on("domain", "name"), block_on("email")]
        em_rules = (block_on("domain"), block_on("name"))
    linker = make_linker(_settings(grain))
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    model: dict[str, Any] = linker.misc.save_model_to_json()
    for rule in em_rules:
        linker = make_linker(fill_unobserved_m(copy.deepcopy(model)))
        try:
            with m_floor():
                linker.training.estimate_parameters_using_expectation_maximisation(rule)
        except Exception as exc:
            sql = rule.get_blocking_rule("duckdb").blocking_rule_sql
            logging.getLogger(__name__).warning("EM blocked on %s skipped: %s", sql, exc)
            continue
        model = linker.misc.save_model_to_json()
    return correct_u(fill_unobserved_m(model))


def match(
    records: Sequence[IdentityRecord],
    *,
    grain: str,
    threshold: float,
    review_threshold: float | None = None,
    model_path: Path | None = None,
    model: dict[str, Any] | None = None,
    seed: int = 42,
) -> MatchOutcome:
    """Score candidate pairs with ``model`` (a stored Splink model), or one trained here."""
    if len(records) < 2:
        return MatchOutcome([], [], model, False)
    from splink import DuckDBAPI, Linker

    logging.getLogger("splink").setLevel(logging.ERROR)
    con = duck.connect()
    con.register("identity_input_arrow", _table(records))
    con.execute("CREATE TABLE identity_input AS SELECT * FROM identity_input_arrow")
    db_api = DuckDBAPI(connection=con)
    trained = model is None
    if model is None:
        model = train(lambda settings: Linker(sdf_again(db_api), settings, log_level=None), grain, seed)
    linker = Linker(sdf_again(db_api), model, log_level=None)
    if model_path is not None:
        model_path.parent.mkdir(parents=True, exist_ok=True)
        linker.misc.save_model_to_json(str(model_path), overwrite=True)
    floor = min(threshold, review_threshold if review_threshold is not None else threshold)
    predictions = linker.inference.predict(threshold_match_probability=floor)
    mw_cols = [c for c in predictions.as_duckdbpyrelation().columns if c.startswith("mw_")]
    names = [c[3:] for c in mw_cols]
    # Only the columns a link keeps, a chunk at a time: the full prediction rows (every
    # intermediate column) of a million records as Python tuples cost gigabytes.
    wanted = ", ".join(f'"{c}"' for c in ("unique_id_l", "unique_id_r", "match_probability", *mw_cols))
    cursor = con.execute(f"SELECT {wanted} FROM {predictions.physical_name}")
    links: list[MatchLink] = []
    review: list[MatchLink] = []
    while chunk := cursor.fetchmany(PREDICTION_CHUNK):
        for left, right, probability, *mw in chunk:
            link = MatchLink(left, right, float(probability),
                             {n: round(float(w), 3) for n, w in zip(names, mw, strict=True) if w is not None})
            (links if link.probability >= threshold else review).append(link)
    con.close()
    return MatchOutcome(links, review, model, trained)
