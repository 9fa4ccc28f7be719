"""The compiled access policy: what each consumer sees of the product, derived in one place.

Serving, ``plan``/``apply``, the ODCS and JSON Schema exports, the documentation site and the
product page all read a consumer's access from here, so they cannot disagree.

**The rule** (what serving applies, record by record): a consumer's *rules* are its base policy
(``consumers.<name>``) and every ``policies:`` entry naming it. For one record, the rules whose
row filter passes (a rule without one passes every record) *apply*. The consumer sees the union
of their fields; a field is in the clear when some applicable rule grants it in the clear, and
otherwise carries the most revealing of their masks (:data:`MASK_REVEAL`, from the mask
registry). When no rule applies, the record does not exist for the consumer.

**Cases.** Which rules apply depends on the record, so a consumer's view is described by its
cases: every combination of its row filters passing or failing, with the fields and masks
served in each. Filters are treated as independent, except that a combination contradicting a
provable implication between two filters (``segment = 'smb'`` implies ``segment in ('smb',
'mid_market')``) is left out. That is a superset of what real records can produce: whatever
holds in every case holds for every record, which is what makes :func:`compare` sound.

**Comparing views.** Masks are ordered only as far as "reveals at least as much" is certain:
absent < redact < any other mask < in the clear. Two different masks other than ``redact``
(``hash`` and ``email``) are not comparable: a consumer relying on one loses it with the other,
so such a change is not a widening.

**Where it lives.** This module is the entry point; the parts are
:mod:`~c360.governance.policy_view` (rules, cases, views), :mod:`~c360.governance.policy_conditions`
(row filters as conditions and their implications), :mod:`~c360.governance.policy_compare`
(two views compared) and :mod:`~c360.governance.policy_problems` (what validate reports).
Mask kinds (their order, types and meaning) are :mod:`c360.governance.masks`.

Pure: no I/O.
"""

from __future__ import annotations

from c360.governance.masks import MASK_JSON_TYPE, MASK_REVEAL
from c360.governance.policy_compare import Delta, blame, compare
from c360.governance.policy_conditions import MAX_CONDITIONS, assignments, canonical, implies
from c360.governance.policy_problems import notes, problems
from c360.governance.policy_view import (
    Case,
    Form,
    Rule,
    Shape,
    View,
    at_least_as_revealing,
    combine,
    lookup_sources,
    rules_of,
    served_view,
    view_of,
    views,
)

__all__ = [
    "MASK_JSON_TYPE",
    "MASK_REVEAL",
    "MAX_CONDITIONS",
    "Case",
    "Delta",
    "Form",
    "Rule",
    "Shape",
    "View",
    "assignments",
    "at_least_as_revealing",
    "blame",
    "canonical",
    "combine",
    "compare",
    "implies",
    "lookup_sources",
    "notes",
    "problems",
    "rules_of",
    "served_view",
    "view_of",
    "views",
]
