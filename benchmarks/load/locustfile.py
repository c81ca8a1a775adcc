"""The Locust users of the load run (``benchmarks/load/run.sh`` starts them; the plan comes from ``seed.py``).

- ``Expert`` (one per seeded scoring task): signs in through the login page, finds its task in the inbox,
  opens it, saves its items one by one as the page's forms post them (a deduction with a reason naming the
  expert and the item, so the checker can tell each write), then submits the sheet; afterwards it looks at its
  inbox now and then.
- ``Clerk`` (bureau staff): the inbox, the case list and case pages.
- ``Officer``: issues every case of the certificate queue as one batch, through the queue page, once; then polls
  the batch's progress page as the browser's refresh does.

What each user posted and how the server answered is written to ``$LOAD_RESULTS`` when the run stops; the
checker (``check.py``) compares it with the database.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
import time

from locust import HttpUser, between, constant, events, task

PLAN = json.load(open(os.environ["LOAD_PLAN"], encoding="utf-8"))  # noqa: SIM115 - read once at import
RESULTS_PATH = os.environ["LOAD_RESULTS"]
PASSWORD = PLAN["password"]
EXPERTS = list(PLAN["experts"])
CLERKS = itertools.cycle(PLAN["clerks"])
CASES = PLAN["review_cases"] + PLAN["approved_cases"]
_take = threading.Lock()

RESULTS: dict = {"scores": [], "submits": [], "batch": None, "logins_failed": 0}

ITEM_FORM = re.compile(r'<form method="post" class="form-box" id="item-([^"]+)">(.*?)</form>', re.S)
FIELD = re.compile(r'name="(item-[^"]+)"')
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def deduction_for(username: str, code: str) -> str:
    """A small deduction that differs from item to item and expert to expert (0.1 to 0.9)."""
    return f"0.{(sum(map(ord, username + code)) % 9) + 1}"


def reason_for(username: str, code: str) -> str:
    return f"负载测试 {username} {code}"


class SignedIn(HttpUser):
    abstract = True
    username = ""

    def login(self) -> bool:
        page = self.client.get("/accounts/login/", name="/accounts/login/")
        token = CSRF_INPUT.search(page.text or "")
        if token is None:
            RESULTS["logins_failed"] += 1
            return False
        with self.client.post("/accounts/login/", data={
                "username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)},
                allow_redirects=False, catch_response=True, name="/accounts/login/ (POST)") as response:
            if response.status_code != 302:
                response.failure(f"login of {self.username}: HTTP {response.status_code}")
                RESULTS["logins_failed"] += 1
                return False
        return True

    def csrf(self) -> str:
        return self.client.cookies.get("csrftoken", "")


class Expert(SignedIn):
    fixed_count = len(EXPERTS)
    wait_time = between(0.2, 1.0)

    def on_start(self):
        with _take:
            self.plan = EXPERTS.pop()
        self.username = self.plan["username"]
        self.items: list[tuple[str, list[str]]] | None = None
        self.next_item = 0
        self.submitted = False
        self.signed_in = self.login()

    @task
    def work(self):
        if not self.signed_in:
            self.signed_in = self.login()
            return
        path = self.plan["path"]
        if self.submitted:
            self.client.get("/tasks/", name="/tasks/")
            time.sleep(random.uniform(3, 6))  # noqa: S311 - think time of a member whose sheet is in
            return
        if self.items is None:
            with self.client.get("/tasks/", name="/tasks/", catch_response=True) as inbox:
                if path not in (inbox.text or ""):
                    inbox.failure(f"{self.username}: the scoring task is not in the inbox")
            page = self.client.get(path, name="/cases/[pk]/tasks/[pk]/ (score)")
            if page.status_code != 200:
                return
            self.items = [(code, FIELD.findall(body)) for code, body in ITEM_FORM.findall(page.text)]
            return
        if self.next_item < len(self.items):
            code, fields = self.items[self.next_item]
            self.save_item(path, code, fields)
            self.next_item += 1
            return
        self.submit(path)

    def save_item(self, path: str, code: str, fields: list[str]):
        prefix = f"item-{code}-"
        data = {"csrfmiddlewaretoken": self.csrf(), "action": "item", "item": code}
        deduction, reason = deduction_for(self.username, code), reason_for(self.username, code)
        for name in fields:
            field = name.removeprefix(prefix)
            if field == "deduction":
                data[name] = deduction
            elif field == "reason":
                data[name] = reason
            elif field == "rate":
                data[name] = "95"
        with self.client.post(path, data=data, allow_redirects=False, catch_response=True,
                              name="/cases/[pk]/tasks/[pk]/ (save item)") as response:
            saved = response.status_code == 302 and response.headers.get("Location", "").endswith(path)
            if not saved:
                response.failure(f"{self.username} {code}: HTTP {response.status_code}")
        RESULTS["scores"].append({"username": self.username, "case": self.plan["case"], "task": self.plan["task"],
                                  "item": code, "deduction": deduction, "reason": reason,
                                  "status": response.status_code, "saved": saved})

    def submit(self, path: str):
        with self.client.post(path, data={"csrfmiddlewaretoken": self.csrf(), "action": "submit"},
                              allow_redirects=False, catch_response=True,
                              name="/cases/[pk]/tasks/[pk]/ (submit)") as response:
            done = response.status_code == 302 and response.headers.get("Location", "").endswith(
                f"/cases/{self.plan['case']}/")
            if not done:
                response.failure(f"{self.username} submit: HTTP {response.status_code}")
        RESULTS["submits"].append({"username": self.username, "case": self.plan["case"], "task": self.plan["task"],
                                   "status": response.status_code, "done": done, "items": len(self.items)})
        self.submitted = True


class Clerk(SignedIn):
    weight = 1  # every user not an expert or the officer
    wait_time = between(1, 3)

    def on_start(self):
        self.username = next(CLERKS)
        self.signed_in = self.login()

    @task(2)
    def inbox(self):
        self.client.get("/tasks/", name="/tasks/")

    @task(2)
    def case_list(self):
        self.client.get("/cases/", name="/cases/")

    @task(3)
    def case_page(self):
        self.client.get(f"/cases/{random.choice(CASES)}/", name="/cases/[pk]/")  # noqa: S311


class Officer(SignedIn):
    fixed_count = 1
    wait_time = constant(3)  # the batch page refreshes itself every 3 seconds

    def on_start(self):
        self.username = PLAN["officer"]
        self.signed_in = self.login() and self.second_factor()
        self.batch_path = None

    def second_factor(self) -> bool:
        """The officer's second step of signing in: the code of its authenticator (django-otp's own TOTP)."""
        from binascii import unhexlify

        from django_otp.oath import totp

        code = f"{totp(unhexlify(PLAN['officer_totp_key'])):06d}"
        with self.client.post("/accounts/2fa/verify/", data={"code": code, "next": "/",
                                                            "csrfmiddlewaretoken": self.csrf()},
                              allow_redirects=False, catch_response=True, name="/accounts/2fa/verify/ (POST)") as r:
            if r.status_code != 302:
                r.failure(f"second factor of {self.username}: HTTP {r.status_code}")
                RESULTS["logins_failed"] += 1
                return False
        return True

    @task
    def issue_then_poll(self):
        if self.batch_path is None:
            queue = self.client.get("/certificates/queue/", name="/certificates/queue/")
            if queue.status_code != 200:
                return
            with self.client.post("/certificates/queue/", data={"csrfmiddlewaretoken": self.csrf(), "all": "1"},
                                  allow_redirects=False, catch_response=True,
                                  name="/certificates/queue/ (issue all)") as response:
                location = response.headers.get("Location", "")
                if response.status_code != 302 or "/certificates/batches/" not in location:
                    response.failure(f"batch not started: HTTP {response.status_code}")
                    return
            self.batch_path = location
            RESULTS["batch"] = {"path": location, "pk": int(location.rstrip("/").rsplit("/", 1)[1]),
                                "started": time.time(), "finished": None}
            return
        page = self.client.get(self.batch_path, name="/certificates/batches/[pk]/")
        if page.status_code == 200 and 'http-equiv="refresh"' not in page.text and RESULTS["batch"]["finished"] is None:
            RESULTS["batch"]["finished"] = time.time()


@events.test_stop.add_listener
def write_results(environment, **_kwargs):
    with open(RESULTS_PATH, "w", encoding="utf-8") as out:
        json.dump(RESULTS, out, ensure_ascii=False)
