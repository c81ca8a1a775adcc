"""Middleware of the deployment as a whole (not of one app)."""

from django.utils.cache import patch_cache_control


class NoStoreMiddleware:
    """``Cache-Control: no-store, private`` on every response to a signed-in user and on every API response:
    a case file, a score or a token must not stay in a shared computer's browser cache or in a proxy (等保 2.0,
    剩余信息保护). Public pages (notices, certificate verification) and static files keep their caching."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or request.path.startswith("/api/"):
            patch_cache_control(response, no_store=True, private=True, no_cache=True, max_age=0)
        return response
