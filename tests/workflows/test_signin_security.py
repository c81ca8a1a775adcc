"""Sign-in security on the pages (等保 2.0): lockout on every sign-in form, audited and lifted by an
administrator; the second factor of privileged roles; the session's idle timeout and maximum age."""

import datetime as dt
import re
from base64 import b32encode

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.cache import cache
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from certification import permissions
from certification.enums import Role
from certification.models import AuditEntry
from certification.services.audit import audit_verify
from tests.factories import UserFactory
from tests.signin import authenticator_for, totp_now
from tests.worlds import local

pytestmark = pytest.mark.django_db

LOCKED = "登录失败次数过多，该账号或该地址已被锁定15分钟。请15分钟后再试，或联系管理员解锁。"
PASSWORD = "pw-for-tests"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


def alert(response) -> str:
    """The text of the page's alert (the lockout's message)."""
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', response.content.decode(), re.S)
    return found.group(1).strip() if found else ""


def sign_in(client, username, password=PASSWORD, path="/accounts/login/"):
    return client.post(path, {"username": username, "password": password})


def actions(**filters) -> list[str]:
    return list(AuditEntry.objects.filter(action__startswith="signin.", **filters).values_list("action", flat=True))


# --- Lockout ------------------------------------------------------------------------------------------------
def test_five_wrong_passwords_lock_the_account_on_the_sign_in_page_even_for_the_right_one(client):
    UserFactory(username="clerk")
    with time_machine.travel(local(2026, 3, 2, 9, 0), tick=False):
        first_four = [sign_in(client, "clerk", "wrong").status_code for _n in range(4)]
        fifth = sign_in(client, "clerk", "wrong")
        right = sign_in(client, "clerk")

    assert first_four == [200, 200, 200, 200]
    assert (fifth.status_code, alert(fifth)) == (429, LOCKED)
    assert fifth["Retry-After"] == "900"
    assert (right.status_code, alert(right)) == (429, LOCKED)
    assert "_auth_user_id" not in client.session
    assert actions() == ["signin.failed"] * 4 + ["signin.locked_out", "signin.failed", "signin.failed"]
    locked = AuditEntry.objects.get(action="signin.locked_out")
    assert (locked.target_type, locked.after["username"], locked.after["failures"], locked.after["minutes"]) == (
        "certification.user", "clerk", 5, 15)
    assert audit_verify().ok


def test_the_lockout_ends_after_its_fifteen_minutes(client):
    UserFactory(username="clerk")
    with time_machine.travel(local(2026, 3, 2, 9, 0), tick=False):
        for _n in range(5):
            sign_in(client, "clerk", "wrong")
    with time_machine.travel(local(2026, 3, 2, 9, 14), tick=False):
        assert sign_in(client, "clerk").status_code == 429
    with time_machine.travel(local(2026, 3, 2, 9, 30), tick=False):
        response = sign_in(client, "clerk")
    assert (response.status_code, response["Location"]) == (302, "/")


def test_five_failures_from_one_address_lock_the_address_for_every_account(client):
    UserFactory(username="someone")
    for n in range(5):
        sign_in(client, f"guess{n}", "wrong")
    response = sign_in(client, "someone")
    assert (response.status_code, alert(response)) == (429, LOCKED)
    assert AuditEntry.objects.get(action="signin.locked_out").after["address"] == "127.0.0.1"
    # an unknown account's failures are recorded against axes' record of the attempts
    assert AuditEntry.objects.filter(action="signin.failed").first().target_type == "axes.accessattempt"


def test_behind_a_proxy_the_address_counted_is_the_one_the_proxy_saw(client, settings):
    settings.CERTIFICATION_PROXY_COUNT = 1
    UserFactory(username="someone")
    for n in range(5):  # a guesser behind the proxy, who also writes an address of their own in the header
        client.post("/accounts/login/", {"username": f"guess{n}", "password": "wrong"},
                    HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.7", REMOTE_ADDR="127.0.0.1")
    guesser = client.post("/accounts/login/", {"username": "someone", "password": PASSWORD},
                          HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7", REMOTE_ADDR="127.0.0.1")
    other = client.__class__().post("/accounts/login/", {"username": "someone", "password": PASSWORD},
                                    HTTP_X_FORWARDED_FOR="198.51.100.2", REMOTE_ADDR="127.0.0.1")
    assert (guesser.status_code, other.status_code) == (429, 302)
    assert AuditEntry.objects.get(action="signin.locked_out").after["address"] == "203.0.113.7"


def test_five_wrong_passwords_lock_the_admin_sign_in_too(client):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    statuses = [sign_in(client, "root", "wrong", path="/admin/login/").status_code for _n in range(4)]
    fifth = sign_in(client, "root", "wrong", path="/admin/login/")
    assert statuses == [200, 200, 200, 200]
    assert (fifth.status_code, alert(fifth)) == (429, LOCKED)
    assert actions(after__path="/admin/login/") == ["signin.failed"] * 4 + ["signin.locked_out", "signin.failed"]


def test_an_administrator_unlocks_an_account_in_the_admin_and_it_is_audited(client):
    clerk = UserFactory(username="clerk")
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    other = client.__class__()
    for _n in range(5):
        sign_in(other, "clerk", "wrong")
    assert sign_in(other, "clerk").status_code == 429

    client.force_login(admin)
    response = client.post("/admin/certification/user/", {"action": "unlock_signin", "_selected_action": [clerk.pk]})

    assert response.status_code == 302
    assert sign_in(other, "clerk").status_code == 302
    unlock = AuditEntry.objects.get(action="signin.unlock")
    assert (unlock.actor, unlock.target_id, unlock.after["username"], unlock.after["attempts_removed"]) == (
        admin, str(clerk.pk), "clerk", 1)


def test_an_administrator_unlocks_an_address_from_the_attempts_list(client):
    from axes.models import AccessAttempt

    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    UserFactory(username="someone")
    other = client.__class__()
    for n in range(5):
        sign_in(other, f"guess{n}", "wrong")
    client.force_login(admin)
    listed = client.get("/admin/axes/accessattempt/")
    response = client.post("/admin/axes/accessattempt/", {
        "action": "unlock", "_selected_action": list(AccessAttempt.objects.values_list("pk", flat=True))})

    assert (listed.status_code, response.status_code) == (200, 302)
    assert sign_in(other, "someone").status_code == 302
    assert AuditEntry.objects.filter(action="signin.unlock", actor=admin).count() == 5


# --- The second factor --------------------------------------------------------------------------------------
def approver(bureaus, username="approver"):
    user = UserFactory(username=username)
    permissions.role_grant(user=user, role=Role.APPROVER, obj=bureaus["city"])
    return user


def test_a_privileged_user_without_an_authenticator_is_sent_to_enrol_and_reaches_nothing_else(client, bureaus):
    approver(bureaus)
    assert sign_in(client, "approver")["Location"] == "/"

    pages = {path: client.get(path) for path in ("/tasks/", "/cases/", "/certificates/queue/")}
    api = client.get("/api/v1/cases/")

    assert {path: r["Location"] for path, r in pages.items()} == {
        "/tasks/": "/accounts/2fa/setup/?next=/tasks/",
        "/cases/": "/accounts/2fa/setup/?next=/cases/",
        "/certificates/queue/": "/accounts/2fa/setup/?next=/certificates/queue/"}
    assert (api.status_code, api.json()["code"]) == (403, "second_factor_required")


def test_a_superuser_needs_the_second_factor_before_the_admin(client):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    sign_in(client, "root", path="/admin/login/")
    response = client.get("/admin/")
    assert response["Location"] == "/accounts/2fa/setup/?next=/admin/"


def test_enrolling_an_authenticator_with_a_code_it_shows_opens_the_pages_and_gives_recovery_codes(client, bureaus):
    user = approver(bureaus)
    sign_in(client, "approver")
    with time_machine.travel(local(2026, 3, 2, 9, 0), tick=False):
        setup = client.get("/accounts/2fa/setup/?next=/tasks/")
        device = TOTPDevice.objects.get(user=user, confirmed=False)
        wrong = client.post("/accounts/2fa/setup/?next=/tasks/", {"code": "000000", "next": "/tasks/"})
    with time_machine.travel(local(2026, 3, 2, 9, 1), tick=False):  # after the wrong code's short back-off
        done = client.post("/accounts/2fa/setup/?next=/tasks/", {"code": totp_now(device), "next": "/tasks/"})
        tasks = client.get("/tasks/")

    secret = re.search(r'<code id="otp-secret">(\w+)</code>', setup.content.decode()).group(1)
    assert secret == b32encode(device.bin_key).decode()
    assert wrong.context["form"].errors["code"] == ["验证码不正确。 请输入身份验证器应用当前显示的六位数字。"]
    codes = re.findall(r"<li><code>(\w+)</code></li>", done.content.decode())
    assert len(codes) == 10
    assert sorted(codes) == sorted(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert tasks.status_code == 200
    assert AuditEntry.objects.filter(action="otp.enrol", target_id=str(user.pk)).count() == 1


def test_signing_in_asks_for_the_authenticators_code_and_a_right_one_opens_the_pages(client, bureaus):
    user = approver(bureaus)
    device = authenticator_for(user)
    with time_machine.travel(local(2026, 3, 2, 9, 0), tick=False):
        sign_in(client, "approver")
        sent = client.get("/tasks/")
        wrong = client.post("/accounts/2fa/verify/", {"code": "123456", "next": "/tasks/"})
    with time_machine.travel(local(2026, 3, 2, 9, 1), tick=False):  # after the wrong code's short back-off
        right = client.post("/accounts/2fa/verify/", {"code": totp_now(device), "next": "/tasks/"})
        tasks = client.get("/tasks/")

    assert sent["Location"] == "/accounts/2fa/verify/?next=/tasks/"
    assert wrong.context["form"].errors["code"] == [
        "验证码不正确或已使用。请输入身份验证器当前显示的验证码，或一个未使用的恢复码。"]
    assert right["Location"] == "/tasks/"
    assert tasks.status_code == 200
    assert list(AuditEntry.objects.filter(action__startswith="otp.").values_list("action", flat=True)) == [
        "otp.failed"]


def test_a_recovery_code_signs_in_once(client, bureaus):
    from certification.services.signin import recovery_codes_issue

    user = approver(bureaus)
    authenticator_for(user)
    code = recovery_codes_issue(user=user)[0]

    sign_in(client, "approver")
    first = client.post("/accounts/2fa/verify/", {"code": code, "next": "/tasks/"})
    client.post("/accounts/logout/")
    sign_in(client, "approver")
    second = client.post("/accounts/2fa/verify/", {"code": code, "next": "/tasks/"})

    assert first["Location"] == "/tasks/"
    assert (second.status_code, client.get("/tasks/")["Location"]) == (200, "/accounts/2fa/verify/?next=/tasks/")
    used = AuditEntry.objects.get(action="otp.recovery_used")
    assert used.after == {"recovery_codes_left": 9}


def test_other_roles_sign_in_with_a_password_unless_the_setting_requires_it_of_everyone(client, bureaus, settings):
    staff = UserFactory(username="staff")
    permissions.role_grant(user=staff, role=Role.BUREAU_STAFF, obj=bureaus["city"])
    sign_in(client, "staff")
    assert client.get("/tasks/").status_code == 200

    settings.CERTIFICATION_2FA_ALL_ROLES = True
    assert client.get("/tasks/")["Location"] == "/accounts/2fa/setup/?next=/tasks/"


def test_a_force_logged_in_privileged_user_of_another_test_is_verified(client, bureaus):
    """The suite's helper (tests/signin.py): force_login verifies the second factor, as typing a code would."""
    user = approver(bureaus)
    client.force_login(user)
    assert client.get("/tasks/").status_code == 200
    assert Group.objects.get(name=Role.APPROVER).user_set.get() == user


# --- Sessions -----------------------------------------------------------------------------------------------
@pytest.fixture
def session_policy(settings):
    settings.CERTIFICATION_SESSION_IDLE_MINUTES = 30
    settings.CERTIFICATION_SESSION_MAX_HOURS = 8


def test_a_session_idle_for_more_than_thirty_minutes_ends(client, session_policy):
    UserFactory(username="clerk")
    with time_machine.travel(local(2026, 3, 2, 9, 0), tick=False):
        sign_in(client, "clerk")
    with time_machine.travel(local(2026, 3, 2, 9, 29), tick=False):
        still = client.get("/tasks/")
    with time_machine.travel(local(2026, 3, 2, 10, 0), tick=False):
        ended = client.get("/tasks/")
        login_page = client.get(ended["Location"])

    assert still.status_code == 200
    assert ended["Location"] == "/accounts/login/?next=/tasks/"
    assert [str(m) for m in login_page.context["messages"]] == ["您已超过30分钟未操作，已自动退出，请重新登录。"]


def test_a_session_ends_after_eight_hours_however_busy(client, session_policy):
    UserFactory(username="clerk")
    start = local(2026, 3, 2, 9, 0)
    with time_machine.travel(start, tick=False):
        sign_in(client, "clerk")
    statuses = []
    for minutes in range(20, 8 * 60 + 21, 20):  # every 20 minutes: never idle
        with time_machine.travel(start + dt.timedelta(minutes=minutes), tick=False):
            statuses.append(client.get("/tasks/").status_code)
    assert statuses == [200] * 24 + [302]  # 9:20 … 17:00 answer; 17:20 is past the eight hours
    assert "_auth_user_id" not in client.session


def test_the_session_cookie_dies_with_the_browser(settings):
    from config.settings import base

    assert (base.SESSION_EXPIRE_AT_BROWSER_CLOSE, base.SESSION_COOKIE_AGE) == (True, 8 * 60 * 60)
    assert (base.CERTIFICATION_SESSION_IDLE_MINUTES, base.CERTIFICATION_SESSION_MAX_HOURS) == (30, 8)
