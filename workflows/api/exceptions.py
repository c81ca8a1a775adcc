"""One error shape for every API error, in the caller's language:

- ``detail``: a sentence saying what went wrong;
- ``code``: a machine code for the whole answer (``invalid``, ``rule_refused``, ``not_found``, …);
- ``errors``: for a request that is not valid, each wrong field (a dotted path for nested ones, ``non_field_errors``
  for the request as a whole) with a list of ``{code, message}`` — the codes of Django's and DRF's validators
  (``required``, ``max_value``, ``invalid_choice``, …) or of the rule that refused (``sheet.unknown_item``);
- ``refusals``: where rules refused, each with its code, the rule's name, why and what would satisfy it — the
  same refusals, in the same words, as the web pages show.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from certification.exceptions import RuleViolation

NON_FIELD = "non_field_errors"


def refusals_payload(violation: RuleViolation) -> list[dict]:
    return [{"code": r.code, "rule": str(r.rule), "message": str(r.message), "satisfy": str(r.satisfy)}
            for r in violation.refusals]


def field_errors(details, path: str = "") -> dict[str, list[dict]]:
    """DRF's error details (nested dicts and lists of ``ErrorDetail``) as ``{dotted.path: [{code, message}]}``."""
    found: dict[str, list[dict]] = {}
    if isinstance(details, dict):
        for key, value in details.items():
            for name, errors in field_errors(value, f"{path}.{key}" if path else str(key)).items():
                found.setdefault(name, []).extend(errors)
    elif isinstance(details, list) and details and all(isinstance(d, (dict, list)) for d in details):
        for index, value in enumerate(details):
            for name, errors in field_errors(value, f"{path}.{index}" if path else str(index)).items():
                found.setdefault(name, []).extend(errors)
    elif isinstance(details, list):
        found[path or NON_FIELD] = [{"code": getattr(d, "code", None) or "invalid", "message": str(d)}
                                    for d in details]
    else:
        found[path or NON_FIELD] = [{"code": getattr(details, "code", None) or "invalid", "message": str(details)}]
    return found


def form_errors(form) -> dict[str, list[dict]]:
    """A Django form's errors in the same shape (its prefix dropped), with the validators' codes."""
    prefix = f"{form.prefix}-" if form.prefix else ""
    return {(NON_FIELD if name == "__all__" else name.removeprefix(prefix)):
            [{"code": e["code"] or "invalid", "message": e["message"]} for e in errors]
            for name, errors in form.errors.get_json_data().items()}


def refusal_errors(violation: RuleViolation) -> dict[str, list[dict]]:
    """The refusals as field errors: beside the field a refusal names, otherwise on the request."""
    found: dict[str, list[dict]] = {}
    for refusal in violation.refusals:
        name = refusal.params.get("field") or NON_FIELD
        found.setdefault(name, []).append({"code": refusal.code, "message": str(refusal)})
    return found


class FormInvalid(exceptions.ValidationError):
    """A task's form refused the posted values: its errors, with their codes."""

    def __init__(self, form):
        super().__init__()
        self.form = form


def exception_handler(exc, context):
    if isinstance(exc, RuleViolation):
        return Response({"detail": str(exc), "code": "rule_refused", "errors": refusal_errors(exc),
                         "refusals": refusals_payload(exc)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, FormInvalid):
        return Response({"detail": _("The request is not valid."), "code": "invalid",
                         "errors": form_errors(exc.form)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        # Never Django's English "No Case matches the given query.", which also names the model.
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": _("The request is not valid."), "code": "invalid",
                         "errors": field_errors(exc.detail)}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
        code = getattr(detail, "code", None) or (exc.default_code if isinstance(exc, exceptions.APIException)
                                                 else "error")
        response.data = {"detail": str(detail.get("detail", detail) if isinstance(detail, dict) else detail),
                         "code": code}
    return response
