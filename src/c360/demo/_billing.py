"""Stripe-shaped billing: the plan catalogue, subscriptions and their invoices."""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

from c360.demo._accounts import DAY, Registry

# Monthly list price per seat in minor units (whole yen for JPY); a year costs ten months.
PLANS: dict[str, dict[str, int]] = {
    "starter": {"gbp": 900, "usd": 1200, "eur": 1000, "jpy": 1500},
    "team": {"gbp": 2900, "usd": 3500, "eur": 3200, "jpy": 4900},
    "business": {"gbp": 7900, "usd": 9900, "eur": 8900, "jpy": 13000},
}


def add_months(ts: int, months: int) -> int:
    moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    year, month0 = divmod(moment.month - 1 + months, 12)
    year += moment.year
    day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
    return int(moment.replace(year=year, month=month0 + 1, day=day).timestamp())


def price_ids(reg: Registry) -> dict[tuple[str, str, str], str]:
    """One Stripe price per plan, currency and interval."""
    return {
        (plan, currency, interval): reg.fresh_id("price_", 24)
        for plan, amounts in PLANS.items()
        for currency in amounts
        for interval in ("month", "year")
    }


def subscriptions(
    rng: random.Random,
    reg: Registry,
    end: int,
    cus_id: str,
    currency: str,
    created: int,
    prices: dict[tuple[str, str, str], str],
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """One or two subscriptions of a customer, each with its invoices (the last 12 periods)."""
    for n in range(1 if rng.random() < 0.8 else 2):
        plan = rng.choices(list(PLANS), weights=(5, 3, 2))[0]
        interval = "month" if rng.random() < 0.75 else "year"
        step = 1 if interval == "month" else 12
        amount = PLANS[plan][currency] * (1 if interval == "month" else 10)
        quantity = {"starter": rng.randint(1, 5), "team": rng.randint(3, 25), "business": rng.randint(10, 80)}[plan]
        began = created + n * rng.randint(0, max(0, min(120 * DAY, end - DAY - created)))
        status = rng.choices(("active", "trialing", "past_due", "canceled"), weights=(70, 5, 7, 18))[0]
        if status == "trialing" and end - began > 14 * DAY:
            status = "active"
        periods = [began]
        while (nxt := add_months(began, len(periods) * step)) <= end:
            periods.append(nxt)
        if status == "trialing":
            period_end, billed = began + 14 * DAY, []
        elif status == "canceled" and len(periods) > 1:
            cut = rng.randint(1, len(periods) - 1)
            period_end, billed = periods[cut], periods[:cut]
        else:
            if status == "canceled":
                status = "active"
            period_end, billed = add_months(began, len(periods) * step), periods
        sub = {
            "id": reg.fresh_id("sub_", 24),
            "object": "subscription",
            "customer": cus_id,
            "status": status,
            "created": began,
            "current_period_end": period_end,
            "quantity": quantity,
            "plan": {
                "id": prices[(plan, currency, interval)],
                "amount": amount,
                "currency": currency,
                "interval": interval,
            },
        }
        invoices = []
        billed = billed[-12:]
        for k, at in enumerate(billed):
            due = amount * quantity
            last = k == len(billed) - 1
            if last and status == "past_due":
                state = "open"
            else:
                state = rng.choices(("paid", "void", "uncollectible"), weights=(95, 3, 2))[0]
            invoices.append(
                {
                    "id": reg.fresh_id("in_", 24),
                    "object": "invoice",
                    "customer": cus_id,
                    "status": state,
                    "amount_due": due,
                    "amount_paid": due if state == "paid" else 0,
                    "currency": currency,
                    "created": at,
                }
            )
        yield sub, invoices
