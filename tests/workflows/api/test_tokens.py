"""API tokens: given once, kept as a SHA-256 digest, named, several per user, expiring, listed and revoked by
their owner, dead after a password change or signing out everywhere; the token endpoint locks out like the
sign-in page, and asks privileged roles for their second factor."""

import datetime as dt
import hashlib

import pytest
import time_machine
from django.core.cache import cache

from certification import permissions
from certification.enums import Role
from certification.models import ApiToken, AuditEntry
from tests.factories import UserFactory
from tests.signin import authenticator_for, totp_now
from tests.worlds import local

from .conftest import client_for

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"
LOCKED = "登录失败次数过多，该账号或该地址已被锁定15分钟。请15分钟后再试，或联系管理员解锁。"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


def obtain(username="clerk", password=PASSWORD, **extra):
    return client_for(None).post("/api/v1/auth/token/", {"username": username, "password": password, **extra},
                                 format="json")


def with_token(key):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_token_is_shown_once_and_only_its_digest_is_kept():
    clerk = UserFactory(username="clerk")
    body = obtain(name="夜间同步").json()

    key = body["token"]
    stored = ApiToken.objects.get(user=clerk)
    assert (stored.name, stored.digest, stored.prefix) == ("夜间同步", hashlib.sha256(key.encode()).hexdigest(),
                                                           key[:8])
    assert key not in {stored.digest, stored.prefix, stored.name}
    assert body["api_token"]["prefix"] == key[:8]
    assert with_token(key).get("/api/v1/auth/tokens/").status_code == 200
    assert AuditEntry.objects.filter(action="token.create", target_id=str(stored.pk)).count() == 1


def test_a_token_expires_after_its_days():
    UserFactory(username="clerk")
    with time_machine.travel(local(2026, 3, 2, 9, 0), tick=False):
        key = obtain(days=7).json()["token"]
    with time_machine.travel(local(2026, 3, 9, 8, 59), tick=False):
        before = with_token(key).get("/api/v1/cases/").status_code
    with time_machine.travel(local(2026, 3, 9, 9, 1), tick=False):
        after = with_token(key).get("/api/v1/cases/")
    assert (before, after.status_code, after.json()["detail"]) == (200, 401, "令牌无效、已过期或已被撤销。")


def test_a_token_lasts_thirty_days_at_most():
    UserFactory(username="clerk")
    refused = obtain(days=31)
    with time_machine.travel(local(2026, 3, 2, 9, 0), tick=False):
        default = obtain().json()["api_token"]["expires_at"]
    assert (refused.status_code, refused.json()["detail"]) == (400, "令牌的有效期为1至30天。")
    assert dt.datetime.fromisoformat(default) == local(2026, 4, 1, 9, 0)


def test_the_owner_lists_names_and_revokes_their_tokens_and_another_s_answers_404():
    clerk, other = UserFactory(username="clerk"), UserFactory(username="other")
    first = obtain(name="报表").json()["token"]
    second = obtain(name="同步").json()["token"]
    foreign = obtain(username="other").json()["api_token"]["id"]
    owner = with_token(first)

    listed = owner.get("/api/v1/auth/tokens/").json()["results"]
    second_id = ApiToken.objects.get(user=clerk, name="同步").pk
    revoked = owner.delete(f"/api/v1/auth/tokens/{second_id}/")
    not_mine = owner.delete(f"/api/v1/auth/tokens/{foreign}/")

    assert [(t["name"], t["live"], "token" in t) for t in listed] == [("同步", True, False), ("报表", True, False)]
    assert (revoked.status_code, not_mine.status_code) == (204, 404)
    assert with_token(second).get("/api/v1/cases/").status_code == 401
    assert with_token(first).get("/api/v1/cases/").status_code == 200
    assert ApiToken.objects.get(user=other).revoked_at is None
    assert list(AuditEntry.objects.filter(action="token.revoke").values_list("actor__username", "target_id")) == [
        ("clerk", str(second_id))]


def test_a_password_change_kills_every_token_of_the_user():
    clerk = UserFactory(username="clerk")
    keys = [obtain(name=f"t{n}").json()["token"] for n in range(2)]
    clerk.set_password("Another-pass-2026")
    clerk.save()
    assert [with_token(key).get("/api/v1/cases/").status_code for key in keys] == [401, 401]
    assert set(ApiToken.objects.values_list("revoked_reason", flat=True)) == {"password changed"}


def test_changing_the_password_on_its_page_kills_the_tokens_and_obeys_the_policy(client):
    clerk = UserFactory(username="clerk")
    key = obtain().json()["token"]
    client.force_login(clerk)
    weak = client.post("/accounts/password/", {"old_password": "pw-for-tests", "new_password1": "abcdefghijk",
                                               "new_password2": "abcdefghijk"})
    strong = client.post("/accounts/password/", {"old_password": "pw-for-tests", "new_password1": "Kao-Ping-2026",
                                                 "new_password2": "Kao-Ping-2026"})
    assert weak.context["form"].errors["new_password2"] == ["密码须至少包含以下四类字符中的3类：大写字母、小写字母、数字和符号。"]
    assert strong["Location"] == "/accounts/password/done/"
    assert with_token(key).get("/api/v1/cases/").status_code == 401
    assert client.get("/accounts/security/").status_code == 200  # this session stays signed in


def test_signing_out_everywhere_ends_the_sessions_and_the_tokens(client):
    clerk = UserFactory(username="clerk")
    key = obtain().json()["token"]
    elsewhere = client.__class__()
    elsewhere.force_login(clerk)
    client.force_login(clerk)

    response = client.post("/accounts/security/sign-out-everywhere/")

    assert response["Location"] == "/accounts/login/"
    assert elsewhere.get("/tasks/")["Location"] == "/accounts/login/?next=/tasks/"
    assert with_token(key).get("/api/v1/cases/").status_code == 401


def test_the_owner_creates_sees_and_revokes_tokens_on_their_page(client):
    clerk = UserFactory(username="clerk")
    client.force_login(clerk)
    created = client.post("/accounts/security/", {"name": "报表程序", "days": 10})
    key = created.context["created"]["key"]
    token = ApiToken.objects.get(user=clerk)
    revoked = client.post(f"/accounts/security/tokens/{token.pk}/revoke/")
    stranger = UserFactory(username="stranger")
    client.force_login(stranger)
    not_mine = client.post(f"/accounts/security/tokens/{token.pk}/revoke/")

    assert f'<code id="new-token">{key}</code>' in created.content.decode()
    assert hashlib.sha256(key.encode()).hexdigest() == token.digest
    assert revoked["Location"] == "/accounts/security/"
    assert not_mine.status_code == 404
    assert with_token(key).get("/api/v1/cases/").status_code == 401


def test_five_wrong_passwords_lock_the_token_endpoint():
    UserFactory(username="clerk")
    statuses = [obtain(password="wrong").status_code for _n in range(4)]
    fifth = obtain(password="wrong")
    right = obtain()
    assert statuses == [401, 401, 401, 401]  # wrong credentials: 401, not 400
    assert (fifth.status_code, fifth.json()["detail"], fifth["Retry-After"]) == (429, LOCKED, "900")
    assert (right.status_code, right.json()["code"]) == (429, "locked_out")
    assert list(AuditEntry.objects.filter(action__startswith="signin.").values_list("action", flat=True)) == [
        "signin.failed"] * 4 + ["signin.locked_out", "signin.failed", "signin.failed"]
    assert ApiToken.objects.count() == 0


def test_a_privileged_role_gets_a_token_only_with_its_second_factor(bureaus):
    officer = UserFactory(username="clerk")
    permissions.role_grant(user=officer, role=Role.CERTIFICATE_OFFICER, obj=bureaus["province"])
    device = authenticator_for(officer)
    with time_machine.travel(local(2026, 3, 2, 9, 0), tick=False):
        without = obtain()
        with_code = obtain(otp=totp_now(device))
    assert (without.status_code, without.json()["errors"]["otp"]) == (
        400, [{"code": "invalid", "message": "您的角色须使用第二重验证：请以“otp”提交身份验证器的验证码。"}])
    assert with_code.status_code == 200
    assert ApiToken.objects.filter(user=officer).count() == 1
