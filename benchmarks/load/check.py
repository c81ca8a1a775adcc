"""After the load run: what the database holds against what the Locust users posted and were told.

``check(results, plan)`` returns a JSON-able dict; ``ok`` is true when nothing was lost or duplicated:

- **scores**: every item save the server acknowledged (a redirect back to the task) is stored exactly once on
  the member's sheet (one ``ScoreLine`` per sheet and item), with the deduction and the reason posted; no
  sheet of the run holds two lines for one item;
- **sheets**: every submit the server acknowledged left the sheet submitted and its scoring task done; no case
  has two scoring tasks for one member, and no member an open scoring task once their sheet is in;
- **certificates**: per year, the numbers are unique and the serials run 1..N without a gap, N being the
  year's counter, each number printed from its year and serial;
- **batch**: every case of the officer's batch that was issued has exactly one certificate (of its
  institution and grade), the case's and the batch item's.

The checks read only the database and the results: each can fail, and ``tests/benchmarks/test_load_check.py``
makes each fail.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter, defaultdict
from decimal import Decimal


def _scores(results: dict) -> dict:
    from certification.models import ScoreLine, ScoreSheet, SheetKind

    posted = [s for s in results.get("scores", ())]
    acknowledged = [s for s in posted if s.get("saved")]
    sheets = {}
    for score in posted:
        key = (score["case"], score["username"])
        if key not in sheets:
            sheets[key] = (ScoreSheet.objects.filter(case_id=score["case"], kind=SheetKind.MEMBER,
                                                     expert__user__username=score["username"])
                           .order_by("-round").first())
    lines = defaultdict(list)
    for line in ScoreLine.objects.filter(sheet__in=[s for s in sheets.values() if s is not None]):
        lines[(line.sheet_id, line.item_code)].append(line)
    lost, mismatched = [], []
    for score in acknowledged:
        sheet = sheets[(score["case"], score["username"])]
        found = lines.get((sheet.pk, score["item"]), []) if sheet is not None else []
        if not found:
            lost.append(f"{score['username']} case {score['case']} item {score['item']}")
            continue
        deductions = found[0].entry.get("deductions") or []
        if not any(Decimal(str(d.get("points"))) == Decimal(score["deduction"]) and d.get("reason") == score["reason"]
                   for d in deductions):
            mismatched.append(f"{score['username']} case {score['case']} item {score['item']}: {found[0].entry}")
    duplicated = [f"sheet {sheet_id} item {item}: {len(found)} lines" for (sheet_id, item), found in lines.items()
                  if len(found) > 1]
    unacknowledged_stored = sum(
        1 for s in posted if not s.get("saved") and sheets[(s["case"], s["username"])] is not None
        and lines.get((sheets[(s["case"], s["username"])].pk, s["item"])))
    return {"posted": len(posted), "acknowledged": len(acknowledged), "stored_lines": sum(map(len, lines.values())),
            "lost": lost, "mismatched": mismatched, "duplicated": duplicated,
            "failed_but_stored": unacknowledged_stored}


def _sheets(results: dict, plan: dict) -> dict:
    from viewflow.workflow.models import Task

    from certification.models import PanelMember, ScoreSheet, SheetKind
    from workflows import engine

    flow = engine._flow()
    submits = [s for s in results.get("submits", ()) if s.get("done")]
    not_submitted, task_not_done = [], []
    for submit in submits:
        sheet = (ScoreSheet.objects.filter(case_id=submit["case"], kind=SheetKind.MEMBER,
                                           expert__user__username=submit["username"]).order_by("-round").first())
        if sheet is None or sheet.submitted_at is None:
            not_submitted.append(f"{submit['username']} case {submit['case']}")
        task = Task.objects.filter(pk=submit["task"]).first()
        if task is None or task.status != "DONE":
            task_not_done.append(f"task {submit['task']} ({submit['username']}): {task.status if task else 'gone'}")
    duplicated, open_after_submit = [], []
    cases = set(plan.get("review_cases", ())) | {s["case"] for s in results.get("submits", ())}
    for case_id in sorted(cases):
        tasks = list(Task.objects.filter(process__artifact_object_id=case_id, flow_task=flow.score))
        per_member = Counter(str(t.data.get("member")) for t in tasks)
        duplicated += [f"case {case_id} member {m}: {n} scoring tasks" for m, n in per_member.items() if n > 1]
        submitted_experts = ScoreSheet.objects.filter(case_id=case_id, kind=SheetKind.MEMBER,
                                                      submitted_at__isnull=False).values("expert_id")
        submitted_members = {str(pk) for pk in PanelMember.objects.filter(
            panel__case_id=case_id, expert_id__in=submitted_experts).values_list("pk", flat=True)}
        open_after_submit += [f"case {case_id} task {t.pk}" for t in tasks
                              if t.status in ("NEW", "ASSIGNED", "STARTED") and str(t.data.get("member")) in submitted_members]
    return {"acknowledged_submits": len(submits), "not_submitted": not_submitted, "task_not_done": task_not_done,
            "duplicated_tasks": duplicated, "open_after_submit": open_after_submit}


def _certificates() -> dict:
    from certification.models import Certificate, CertificateSerial, SchemeVersion

    problems = []
    by_year = defaultdict(list)  # each scheme's series, by (scheme, year)
    versions = SchemeVersion.objects.in_bulk()
    for scheme, version, year, serial, number in Certificate.objects.filter(serial__isnull=False).values_list(
            "scheme__code", "scheme_version_id", "year", "serial", "number"):
        by_year[(scheme, year)].append((serial, number))
        if number != Certificate.format_number(year, serial, version=versions[version]):
            problems.append(f"{number}: printed from neither year {year} nor serial {serial}")
    counters = {(scheme, year): last for scheme, year, last
                in CertificateSerial.objects.values_list("scheme__code", "year", "last")}
    for (scheme, year), rows in sorted(by_year.items()):
        series, last = f"{scheme}/{year}", counters.get((scheme, year))
        serials = sorted(s for s, _n in rows)
        repeated = [s for s, n in Counter(serials).items() if n > 1]
        if repeated:
            problems.append(f"{series}: serials issued twice: {repeated}")
        missing = sorted(set(range(1, max(serials) + 1)) - set(serials))
        if missing:
            problems.append(f"{series}: gaps at serials {missing[:20]}")
        if last != max(serials):
            problems.append(f"{series}: the counter says {last}, the last serial is {max(serials)}")
    numbers = Counter(n for rows in by_year.values() for _s, n in rows)
    problems += [f"number {n} issued {c} times" for n, c in numbers.items() if c > 1]
    return {"years": {f"{s}/{y}": len(rows) for (s, y), rows in sorted(by_year.items())}, "problems": problems}


def _batch(results: dict) -> dict:
    from certification.models import Certificate, IssueBatchItem

    batch = results.get("batch")
    if not batch:
        return {"started": False, "problems": []}
    items = list(IssueBatchItem.objects.filter(batch_id=batch["pk"]).select_related("case"))
    status = Counter(i.status for i in items)
    problems = []
    for item in items:
        if item.status != IssueBatchItem.Status.ISSUED:
            continue
        case = item.case
        held = list(Certificate.objects.filter(institution_id=case.institution_id, grade_id=case.grade_id))
        if len(held) != 1:
            problems.append(f"case {case.pk}: {len(held)} certificates of its institution and grade")
        elif not (case.certificate_id == item.certificate_id == held[0].pk):
            problems.append(f"case {case.pk}: case, batch item and certificate disagree "
                            f"({case.certificate_id}, {item.certificate_id}, {held[0].pk})")
    seconds = None
    if batch.get("finished"):
        seconds = round(batch["finished"] - batch["started"], 1)
    return {"started": True, "items": len(items), "issued": status.get("issued", 0),
            "failed": status.get("failed", 0), "pending": status.get("pending", 0),
            "finished": bool(items) and not status.get("pending"),
            "errors": sorted({i.error for i in items if i.error})[:5],
            "seen_finished_after_s": seconds, "problems": problems}


def check(results: dict, plan: dict) -> dict:
    scores, sheets, certificates, batch = _scores(results), _sheets(results, plan), _certificates(), _batch(results)
    ok = not any([scores["lost"], scores["mismatched"], scores["duplicated"], sheets["not_submitted"],
                  sheets["task_not_done"], sheets["duplicated_tasks"], sheets["open_after_submit"],
                  certificates["problems"], batch["problems"]])
    # What the run exercised: a check of nothing is no pass (a run too short or too loaded to get past the
    # logins posts no score and starts no batch).
    exercised = {"scores": scores["acknowledged"], "submits": sheets["acknowledged_submits"],
                 "batch": batch["started"]}
    return {"ok": ok, "exercised": exercised, "scores": scores, "sheets": sheets, "certificates": certificates,
            "batch": batch}


def http_summary(stats_csv: str) -> dict:
    """Requests per second, p95 and errors from Locust's ``--csv`` statistics (the Aggregated row), and the
    same per request name."""
    import csv

    with open(stats_csv, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))

    def summary(row):
        return {"requests": int(row["Request Count"]), "errors": int(row["Failure Count"]),
                "rps": round(float(row["Requests/s"]), 1), "p50_ms": int(float(row["50%"] or 0)),
                "p95_ms": int(float(row["95%"] or 0)), "max_ms": int(float(row["Max Response Time"] or 0))}

    total = next(r for r in rows if r["Name"] == "Aggregated")
    return {**summary(total), "by_request": {f"{r['Type']} {r['Name']}": summary(r) for r in rows
                                             if r["Name"] != "Aggregated"}}


def wait_for_batch(results: dict, seconds: float) -> float:
    """Wait (at most ``seconds``) until the worker has finished every item of the officer's batch; returns
    how long it waited."""
    import time

    from certification.models import IssueBatchItem

    batch, started = results.get("batch"), time.monotonic()
    if not batch:
        return 0.0
    pending = IssueBatchItem.objects.filter(batch_id=batch["pk"], status=IssueBatchItem.Status.PENDING)
    while pending.exists() and time.monotonic() - started < seconds:
        time.sleep(2)
    return round(time.monotonic() - started, 1)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.load.check")
    parser.add_argument("results")
    parser.add_argument("plan")
    parser.add_argument("--stats", help="Locust's *_stats.csv")
    parser.add_argument("--wait-batch", type=float, default=0, help="seconds to wait for the batch to finish")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    with open(args.results, encoding="utf-8") as r, open(args.plan, encoding="utf-8") as p:
        results, plan = json.load(r), json.load(p)
    report = {}
    if args.stats:
        report["http"] = http_summary(args.stats)
    report["waited_for_batch_s"] = wait_for_batch(results, args.wait_batch)
    report["check"] = check(results, plan)
    print(json.dumps(report, ensure_ascii=False))
    exercised = report["check"]["exercised"]
    return 0 if report["check"]["ok"] and exercised["scores"] and exercised["batch"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
