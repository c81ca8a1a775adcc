"""The user's own language (``User.language``), applied at login and to every page of a signed-in user who
has not chosen another one with the language switcher; e-mail is written in it too."""

from django.conf import settings
from django.utils import translation

LOGIN_LANGUAGE_ATTRIBUTE = "_notifications_login_language"


def _supported(code: str) -> str | None:
    return code if code in dict(settings.LANGUAGES) else None


def on_login(sender, request, user, **kwargs) -> None:
    """Receiver of ``user_logged_in``: the user's language becomes the session's language."""
    language = _supported(getattr(user, "language", "") or "")
    if request is not None and language:
        translation.activate(language)
        request.LANGUAGE_CODE = language
        setattr(request, LOGIN_LANGUAGE_ATTRIBUTE, language)


class UserLanguageMiddleware:
    """After authentication: a signed-in user without a language cookie sees the site in their own language;
    at login, the cookie is set to it (the language switcher changes it afterwards)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES):
            language = _supported(user.language)
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        response = self.get_response(request)
        language = getattr(request, LOGIN_LANGUAGE_ATTRIBUTE, None)
        if language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME, language, max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH, domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response
