"""Probabilistic matching with Splink 5 on DuckDB: blocking, comparisons, training, scoring.

The model is trained on each run (u by bounded random sampling with a fixed seed,
m by expectation maximisation) and saved as JSON beside the run, so any result
can be reproduced and explained.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from c360.core import duck
from c360.identity.atoms import Atom

COLUMNS = (
    "names",
    "name1",
    "names_compact",
    "names_first",
    "domains",
    "domain1",
    "phones",
    "postcodes",
    "cities",
    "countries",
    "person_names",
    "person1",
    "phone1",
    "postcode1",
    "ids",
)


# Random pairs sampled to estimate u: the comparisons of lists cost more than plain columns, and
# a million pairs estimates even the rare agreement levels.
U_PAIRS = 1e6

# Written into every trained model: a stored model of another version was trained on other
# comparisons and is never reused.
MODEL_VERSION = 2


def reusable(model: dict[str, Any] | None) -> bool:
    """A stored model this code can score with (trained on the same comparisons)."""
    return model is not None and model.get("c360_model_version") == MODEL_VERSION


SCALARS = frozenset({"unique_id", "name1", "domain1", "person1", "phone1", "postcode1"})

# Prediction rows fetched from DuckDB at a time.
PREDICTION_CHUNK = 50_000


@dataclass(frozen=True, slots=True)
class MatchLink:
    left: str
    right: str
    probability: float
    weights: dict[str, float]
    bits: float | None = None  # Splink's match weight, exact where the probability rounds to 1

    @property
    def weight(self) -> float:
        """The match weight in bits (log2 of the posterior odds)."""
        if self.bits is not None:
            return self.bits
        p = min(max(self.probability, 1e-15), 1 - 1e-15)
        return math.log2(p / (1 - p))


def _list(values: Sequence[str]) -> list[str] | None:
    return list(values) or None


def _table(atoms: Sequence[Atom]) -> pa.Table:
    cols: dict[str, list[Any]] = {c: [] for c in ("unique_id", *COLUMNS)}
    for a in atoms:
        cols["unique_id"].append(a.rid)
        cols["names"].append(_list(a.names))
        cols["name1"].append(a.names[0] if a.names else None)
        cols["names_compact"].append(_list(sorted({n.replace(" ", "") for n in a.names})))
        cols["names_first"].append(_list(sorted({n.split()[0] for n in a.names})))
        cols["domains"].append(_list(a.domains))
        cols["domain1"].append(a.domains[0] if a.domains else None)
        cols["phones"].append(_list(a.phones))
        cols["postcodes"].append(_list(a.postcodes))
        cols["cities"].append(_list(a.cities))
        cols["countries"].append(_list(a.countries))
        cols["person_names"].append(_list(a.person_names))
        cols["person1"].append(a.person_names[0] if a.person_names else None)
        cols["phone1"].append(a.phones[0] if a.phones else None)
        cols["postcode1"].append(a.postcodes[0] if a.postcodes else None)
        cols["ids"].append(_list(a.ids))
    types = {c: pa.string() if c in SCALARS else pa.list_(pa.string()) for c in cols}
    return pa.table({c: pa.array(v, types[c]) for c, v in cols.items()})


def _any_pair(column: str, predicate: str) -> str:
    """SQL: some value of ``column_l`` and some value of ``column_r`` satisfy ``predicate(x, y)``."""
    return (
        f"coalesce(list_bool_or(list_transform({column}_l, lambda x: list_bool_or(list_transform("
        f"{column}_r, lambda y: {predicate})))), false)"
    )


def _name_comparison() -> Any:
    """Company names (every name an atom's records give), graded by how they agree.

    No term-frequency adjustment: one company's name recurs in every system that knows it,
    which TF would read as a common (weak) name; names spread over many domains are removed
    before matching instead. A one-word name agreeing ("ivory") is weaker evidence than
    several words agreeing, a typo is close, and one name inside the other ("ivory" within
    "ivory media") is partial evidence that training weighs.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("names"),
            cll.CustomLevel(
                "list_has_any(list_filter(names_l, lambda x: contains(x, ' ')), names_r)", "exact, several words"
            ),
            cll.CustomLevel("list_has_any(names_l, names_r)", "exact, one word"),
            # A workspace slug ("harbourgarnetdata") against the name it was made from.
            cll.CustomLevel("list_has_any(names_compact_l, names_compact_r)", "same letters, spaced apart"),
            cll.CustomLevel(
                _any_pair("names", "least(length(x), length(y)) >= 6 AND damerau_levenshtein(x, y) <= 2"),
                "a typo or two",
            ),
            cll.CustomLevel(
                _any_pair(
                    "names",
                    "list_has_all(string_split(x, ' '), string_split(y, ' ')) OR "
                    "list_has_all(string_split(y, ' '), string_split(x, ' '))",
                ),
                "one name within the other",
            ),
            cll.CustomLevel(_any_pair("names", "jaro_winkler_similarity(x, y) >= 0.92"), "Jaro-Winkler >= 0.92"),
            cll.ElseLevel(),
        ],
    )


def _overlap(column: str, label: str) -> Any:
    """Two atoms share a value of a list column, or hold only different ones."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name=label,
        comparison_levels=[
            cll.NullLevel(column),
            cll.CustomLevel(f"list_has_any({column}_l, {column}_r)", f"a {label} in common"),
            cll.ElseLevel(),
        ],
    )


def _person_comparison() -> Any:
    """People's full names: the same person on both, or one atom's name is the other's person
    (a billing customer named after its card holder, who files tickets)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="person_name",
        comparison_levels=[
            cll.CustomLevel(
                "(person_names_l IS NULL OR person_names_r IS NULL) AND NOT "
                "(coalesce(list_has_any(names_l, person_names_r), false) OR "
                "coalesce(list_has_any(person_names_l, names_r), false))"
            ).configure(is_null_level=True),
            cll.CustomLevel("list_has_any(person_names_l, person_names_r)", "a person in common"),
            cll.CustomLevel(
                "coalesce(list_has_any(names_l, person_names_r), false) OR "
                "coalesce(list_has_any(person_names_l, names_r), false)",
                "one's name is the other's person",
            ),
            cll.ElseLevel(),
        ],
    )


def _settings(grain: str) -> Any:
    from splink import SettingsCreator, block_on

    comparisons: list[Any] = [
        _name_comparison(),
        _overlap("domains", "domain"),
        _overlap("phones", "phone"),
        _overlap("postcodes", "postcode"),
        _overlap("cities", "city"),
        _person_comparison(),
        _overlap("countries", "country"),
        _overlap("ids", "identifier"),
    ]
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[
            block_on("domains", arrays_to_explode=["domains"]),
            block_on("names_compact", arrays_to_explode=["names_compact"]),
            block_on("phones", arrays_to_explode=["phones"]),
            block_on("ids", arrays_to_explode=["ids"]),
            block_on("person_names", arrays_to_explode=["person_names"]),
            block_on("names_first", "postcodes", arrays_to_explode=["names_first", "postcodes"]),
        ],
        retain_intermediate_calculation_columns=True,
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


def train(make_linker: Callable[[dict[str, Any] | Any], Any], grain: str, seed: int, size: int = 0) -> dict[str, Any]:
    """Estimate the model's parameters; returns it as Splink JSON.

    ``make_linker(settings)`` builds a linker on the input. Each EM session starts from the
    model saved after the one before, so a session that fails (EM can fail to converge on
    tiny or degenerate inputs) is dropped whole instead of leaving its half-changed state
    (a comparison taken out while it is blocked on, the session's match rate) in the model.
    """
    from splink import block_on

    # Training follows the grain: accounts agree on a company's domain and name, people on a
    # person's name and domain. Each EM pass blocks on one and learns the others. EM cannot
    # block on exploded arrays: it blocks on each atom's main value.
    # The list column named beside each rule takes the comparison it feeds out of that session:
    # pairs that share an atom's main domain all agree on domain, which says nothing of matches.
    if grain == "person":
        deterministic = [block_on("person1", "domain1")]
        em_rules = (
            "l.person1 = r.person1 AND l.person_names IS NOT NULL",
            "l.domain1 = r.domain1 AND l.name1 = r.name1 AND l.domains IS NOT NULL AND l.names IS NOT NULL",
        )
    else:
        deterministic = [block_on("domain1", "name1"), block_on("domain1", "phone1"), block_on("phone1", "postcode1")]
        em_rules = ("l.domain1 = r.domain1 AND l.domains IS NOT NULL", "l.name1 = r.name1 AND l.names IS NOT NULL")
    linker = make_linker(_settings(grain))
    try:
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    except Exception as exc:  # no pair agrees on the rule (no names at all, say): the default below
        logging.getLogger(__name__).warning("match rate not estimated: %s", exc)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=seed)
    model: dict[str, Any] = with_m_priors(_sane_prior(linker.misc.save_model_to_json(), size))
    for rule in em_rules:
        linker = make_linker(fill_unobserved_m(copy.deepcopy(model)))
        try:
            with m_floor():
                linker.training.estimate_parameters_using_expectation_maximisation(rule)
        except Exception as exc:
            logging.getLogger(__name__).warning("EM blocked on %s skipped: %s", rule, exc)
            continue
        model = _sane_prior(linker.misc.save_model_to_json(), size)
    out = correct_u(fill_unobserved_m(sane_m(model)))
    out["c360_model_version"] = MODEL_VERSION
    return out


# Where EM starts, and what a comparison falls back to when EM leaves it meaning the opposite
# of what it measures: the share of true matches at each level, the null level left out.
M_PRIORS: dict[str, tuple[float, ...]] = {
    "name": (0.55, 0.1, 0.02, 0.06, 0.08, 0.04, 0.15),
    "domain": (0.85, 0.15),
    "phone": (0.6, 0.4),
    "postcode": (0.75, 0.25),
    "city": (0.85, 0.15),
    "person_name": (0.2, 0.05, 0.75),
    "country": (0.97, 0.03),
    "identifier": (0.6, 0.4),
}


def _levels(comparison: dict[str, Any]) -> list[dict[str, Any]]:
    return [lv for lv in comparison.get("comparison_levels", []) if not lv.get("is_null_level")]


def with_m_priors(model: dict[str, Any]) -> dict[str, Any]:
    """Start every comparison from :data:`M_PRIORS` (a level EM never visits keeps its prior)."""
    for comparison in model.get("comparisons", []):
        priors = M_PRIORS.get(comparison.get("output_column_name", ""))
        levels = _levels(comparison)
        if priors is None or len(priors) != len(levels):
            continue
        for lv, m in zip(levels, priors, strict=True):
            lv["m_probability"] = m
    return model


def sane_m(model: dict[str, Any]) -> dict[str, Any]:
    """Agreement read as evidence *against* a match is EM gone astray: that comparison gets its priors.

    Each level but the last ("all other comparisons") is some form of agreement; when EM
    leaves one with m below u, it learnt something else than the comparison measures (EM
    blocked on a value that many unrelated records share, say).
    """
    for comparison in model.get("comparisons", []):
        priors = M_PRIORS.get(comparison.get("output_column_name", ""))
        levels = _levels(comparison)
        if priors is None or len(priors) != len(levels):
            continue
        agreeing = levels[:-1]
        if any(
            isinstance(lv.get("m_probability"), int | float)
            and isinstance(lv.get("u_probability"), int | float)
            and lv["m_probability"] < lv["u_probability"]
            and lv["u_probability"] < 0.5
            for lv in agreeing
        ):
            logging.getLogger(__name__).warning(
                "comparison %s: EM's estimate ignored (agreement weighed as disagreement); its prior m is used",
                comparison["output_column_name"],
            )
            for lv, m in zip(levels, priors, strict=True):
                lv["m_probability"] = m
    return model


# The match rate two random atoms are held to: between one match for every ten atoms and ten
# matches per atom. Outside it the deterministic rules or EM found too little to go on (no
# names at all, say) and a degenerate rate would make every weight meaningless.
FEWEST_MATCHES, MOST_MATCHES = 0.1, 10.0


def _sane_prior(model: dict[str, Any], size: int) -> dict[str, Any]:
    """The match rate, held within :data:`FEWEST_MATCHES`..:data:`MOST_MATCHES` per record."""
    lam = model.get("probability_two_random_records_match")
    pairs = max(size, 2) * (max(size, 2) - 1) / 2
    low, high = min(0.5, FEWEST_MATCHES * size / 2 / pairs), min(0.5, MOST_MATCHES * size / 2 / pairs)
    if not isinstance(lam, int | float) or math.isnan(lam):
        lam = min(0.5, size / 2 / pairs)
    model["probability_two_random_records_match"] = min(max(float(lam), low), high)
    return model


def match(
    records: Sequence[Atom],
    *,
    grain: str,
    threshold: float,
    review_threshold: float | None = None,
    model_path: Path | None = None,
    model: dict[str, Any] | None = None,
    seed: int = 42,
    evidence_bits: float | None = None,
) -> MatchOutcome:
    """Score candidate pairs with ``model`` (a stored Splink model), or one trained here.

    Pairs are predicted down to the lower of ``threshold`` (and ``review_threshold``) and, with
    ``evidence_bits``, a Bayes factor of that many bits whatever the prior: the candidates a
    record that must belong somewhere is placed among.
    """
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
        model = train(lambda settings: Linker(sdf_again(db_api), settings, log_level=None), grain, seed, len(records))
    linker = Linker(sdf_again(db_api), {k: v for k, v in model.items() if k != "c360_model_version"}, log_level=None)
    if model_path is not None:
        model_path.parent.mkdir(parents=True, exist_ok=True)
        linker.misc.save_model_to_json(str(model_path), overwrite=True)
    floor = min(threshold, review_threshold if review_threshold is not None else threshold)
    floor_bits = math.log2(floor / (1 - floor)) if 0 < floor < 1 else -60.0
    if evidence_bits is not None:
        lam = float(model.get("probability_two_random_records_match") or 0.5)
        floor_bits = min(floor_bits, math.log2(lam / (1 - lam)) + evidence_bits)
    predictions = linker.inference.predict(threshold_match_weight=floor_bits)
    mw_cols = [c for c in predictions.as_duckdbpyrelation().columns if c.startswith("mw_")]
    names = [c[3:] for c in mw_cols]
    # Only the columns a link keeps, a chunk at a time: the full prediction rows (every
    # intermediate column) of a million records as Python tuples cost gigabytes.
    wanted = ", ".join(f'"{c}"' for c in ("unique_id_l", "unique_id_r", "match_probability", "match_weight", *mw_cols))
    cursor = con.execute(f"SELECT {wanted} FROM {predictions.physical_name}")
    links: list[MatchLink] = []
    review: list[MatchLink] = []
    while chunk := cursor.fetchmany(PREDICTION_CHUNK):
        for left, right, probability, bits, *mw in chunk:
            link = MatchLink(
                left,
                right,
                float(probability),
                {n: round(float(w), 3) for n, w in zip(names, mw, strict=True) if w is not None},
                float(bits),
            )
            (links if link.probability >= threshold else review).append(link)
    con.close()
    return MatchOutcome(links, review, model, trained)
