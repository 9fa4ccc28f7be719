"""Company and person names: legal-form stripping, tokens, and a TF-weighted similarity."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from cleanco import prepare_default_terms
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler

from c360.identity.folding import is_placeholder, words

# Words so frequent in company names that sharing them says little about identity; a corpus
# lowers them further, this list keeps them low even for a small or empty corpus.
COMMON_NAME_WORDS = frozenset(
    {
        "the",
        "and",
        "of",
        "global",
        "solutions",
        "solution",
        "systems",
        "system",
        "group",
        "holdings",
        "holding",
        "services",
        "service",
        "trading",
        "international",
        "intl",
        "technologies",
        "technology",
        "tech",
        "enterprises",
        "enterprise",
        "industries",
        "partners",
        "consulting",
        "management",
        "software",
        "digital",
        "media",
        "ventures",
        "capital",
        "worldwide",
        "uk",
        "usa",
        "us",
        "europe",
        "associates",
    }
)
_COMMON_WORD_FACTOR = 0.1

# Two tokens closer than this (Jaro-Winkler) are treated as one misspelt word.
_TOKEN_MATCH = 0.9
_SET_RATIO_SHARE = 0.2

_PERSON_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "lord", "lady", "rev", "fr"})
_PERSON_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq", "mba", "obe", "mbe", "cbe", "kbe"})


def _legal_forms() -> dict[int, frozenset[tuple[str, ...]]]:
    """cleanco's legal-form terms (Ltd, GmbH, S.A., ...) folded the way names are folded."""
    by_size: dict[int, set[tuple[str, ...]]] = {}
    for _, parts in prepare_default_terms():
        term = tuple(words(" ".join(parts)))
        if term:
            by_size.setdefault(len(term), set()).add(term)
    return {size: frozenset(terms) for size, terms in sorted(by_size.items(), reverse=True)}


_LEGAL_FORMS = _legal_forms()
_LEGAL_FORM_ENDINGS = frozenset(term[-1] for terms in _LEGAL_FORMS.values() for term in terms)


def _strip_legal_forms(tokens: list[str]) -> list[str]:
    # cleanco.basename makes one pass; names such as "Acme Holdings Ltd Inc" or
    # "Foo GmbH & Co. KG" stack several forms, so strip trailing forms until none is left.
    end = len(tokens)
    stripped = True
    while stripped and end and tokens[end - 1] in _LEGAL_FORM_ENDINGS:
        stripped = False
        for size, terms in _LEGAL_FORMS.items():
            if size <= end and tuple(tokens[end - size : end]) in terms:
                end -= size
                stripped = True
                break
    return tokens[:end]


@lru_cache(maxsize=262_144)
def company_name(raw: str | None) -> str | None:
    """The comparable form of a company name, or None when there is none.

    Legal forms are stripped (stacked ones too), accents and case folded, ``&`` spelt ``and``,
    punctuation removed and whitespace collapsed; placeholders such as ``n/a`` give None, and
    so does a name made only of legal forms.

    >>> company_name("Nestlé Holdings Ltd.")
    'nestle holdings'
    >>> company_name("Foo GmbH & Co. KG")
    'foo'
    """
    if not isinstance(raw, str):
        return None
    tokens = _strip_legal_forms(words(raw))
    name = " ".join(tokens)
    return None if is_placeholder(name) else name


def name_tokens(name: str | None) -> list[str]:
    """The tokens of a company name after normalisation: ``"Acme Ltd"`` -> ``["acme"]``."""
    normalised = company_name(name)
    return normalised.split() if normalised else []


class TermFrequencies:
    """Token weights (smoothed IDF) learnt from a corpus of company names.

    A token found in many names weighs little; a token never seen weighs most. Words in
    ``COMMON_NAME_WORDS`` are scaled down further so that "Global Solutions" and
    "Global Systems" are not taken for the same company on the strength of "global".

    >>> tf = TermFrequencies(["Acme Ltd", "Acme Group", "Initech Group"])
    >>> tf.weight("initech") > tf.weight("acme") > tf.weight("group")
    True
    """

    def __init__(self, names: Iterable[str | None] = ()) -> None:
        self._document_frequency: Counter[str] = Counter()
        self._documents = 0
        self._weights: dict[str, float] = {}
        for name in names:
            self.add(name)

    def add(self, name: str | None) -> None:
        """Count one more name (raw or normalised) in the corpus."""
        tokens = set(name_tokens(name))
        if not tokens:
            return
        self._documents += 1
        self._document_frequency.update(tokens)
        self._weights.clear()

    @property
    def documents(self) -> int:
        """How many non-empty names the weights were learnt from."""
        return self._documents

    def frequency(self, token: str) -> int:
        """In how many names of the corpus the token occurs."""
        return self._document_frequency[token]

    def weight(self, token: str) -> float:
        """The token's weight, > 0; rare tokens weigh more than frequent and common ones."""
        cached = self._weights.get(token)
        if cached is not None:
            return cached
        idf = math.log((1 + self._documents) / (1 + self._document_frequency[token])) + 1.0
        if token in COMMON_NAME_WORDS:
            idf *= _COMMON_WORD_FACTOR
        self._weights[token] = idf
        return idf


_NO_CORPUS = TermFrequencies()


def name_similarity(a: str | None, b: str | None, tf: TermFrequencies | None = None) -> float:
    """How alike two company names are, in [0, 1]; symmetric.

    A soft TF-IDF cosine: tokens pair up one to one when equal or Jaro-Winkler-close, each pair
    counting by the weights of its tokens, so shared rare words dominate and shared common
    words count little. A small share of rapidfuzz's token-set ratio rewards one name being
    contained in the other.

    >>> name_similarity("Acme Holdings Ltd", "ACME Ltd") > 0.9
    True
    """
    tokens_a = sorted(set(name_tokens(a)))
    tokens_b = sorted(set(name_tokens(b)))
    if not tokens_a or not tokens_b:
        return 0.0
    if tokens_a == tokens_b:
        return 1.0
    weights = tf if tf is not None else _NO_CORPUS
    w_a = {t: weights.weight(t) for t in tokens_a}
    w_b = {t: weights.weight(t) for t in tokens_b}

    candidates: list[tuple[float, str, str]] = []
    for t in tokens_a:
        for u in tokens_b:
            score = 1.0 if t == u else JaroWinkler.similarity(t, u)
            if score >= _TOKEN_MATCH:
                candidates.append((score, t, u))
    # Greedy one-to-one pairing, best pairs first; the key orders a pair's tokens so that
    # swapping the arguments cannot change which pairs are chosen.
    candidates.sort(key=lambda c: (-c[0], min(c[1], c[2]), max(c[1], c[2])))
    used_a: set[str] = set()
    used_b: set[str] = set()
    dot = 0.0
    for score, t, u in candidates:
        if t in used_a or u in used_b:
            continue
        used_a.add(t)
        used_b.add(u)
        dot += w_a[t] * w_b[u] * score
    norm = math.sqrt(sum(w * w for w in w_a.values())) * math.sqrt(sum(w * w for w in w_b.values()))
    soft = dot / norm
    contained = fuzz.token_set_ratio(" ".join(tokens_a), " ".join(tokens_b)) / 100.0
    score = (1.0 - _SET_RATIO_SHARE) * soft + _SET_RATIO_SHARE * contained
    return min(1.0, max(0.0, score))


def person_name(raw: str | None) -> str | None:
    """A person's name folded to ``"first last"`` order, or None.

    ``"SMITH, John"`` and ``"Dr. John Smith Jr."`` both give ``"john smith"``; middle names are
    kept; placeholders and values that are e-mail addresses give None.
    """
    if not isinstance(raw, str) or "@" in raw:
        return None
    text = raw
    if text.count(",") == 1:
        last, _, first = text.partition(",")
        # "Smith, John" is last-name-first; "John Smith, PhD" is a post-nominal.
        if words(first) and not set(words(first)) <= _PERSON_SUFFIXES:
            text = f"{first} {last}"
    tokens = words(text)
    while tokens and tokens[0] in _PERSON_TITLES and len(tokens) > 1:
        tokens = tokens[1:]
    while tokens and tokens[-1] in _PERSON_SUFFIXES and len(tokens) > 1:
        tokens = tokens[:-1]
    name = " ".join(tokens)
    return None if is_placeholder(name) else name
