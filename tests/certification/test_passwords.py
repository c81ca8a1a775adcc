"""The password policy of GB/T 22239 (等保 2.0): at least ten characters, three kinds of character, none of the
last five passwords; in Chinese; enforced where users are created or change their password."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from certification.models import PasswordHistory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SIMPLE = "密码须至少包含以下四类字符中的3类：大写字母、小写字母、数字和符号。"
REUSED = "新密码不得与最近5次使用过的密码相同。"


def problems(password, user=None) -> list[str]:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        return list(exc.messages)
    return []


def test_a_password_needs_ten_characters_and_three_kinds_of_character():
    assert problems("ab1") == ["密码长度太短。密码必须包含至少 10 个字符。", SIMPLE]
    assert problems("kaopingxitong") == [SIMPLE]
    assert problems("kaopingxitong2026") == [SIMPLE]
    assert problems("Kaopingxitong2026") == []
    assert problems("kaoping-xitong-2026") == []


def test_none_of_the_last_five_passwords_may_be_used_again():
    user = UserFactory(username="clerk")
    used = [f"Kaoping-{n}-2026" for n in range(6)]
    for password in used:
        user.set_password(password)
        user.save()

    assert [problems(password, user) for password in used] == [[]] + [[REUSED]] * 5
    assert PasswordHistory.objects.filter(user=user).count() == 5


def test_an_administrator_cannot_create_a_user_with_a_weak_password(client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.post("/admin/certification/user/add/", {
        "username": "newclerk", "password1": "abcdefghijk", "password2": "abcdefghijk", "usable_password": "true"})
    assert response.context["adminform"].form.errors["password2"] == [SIMPLE]
