"""One error shape for every API error: ``detail`` (a sentence in the caller's language), with the rules
that refused (``refusals``) or the fields that are wrong (``errors``) where there are any."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from certification.exceptions import RuleViolation


def refusals_payload(violation: RuleViolation) -> list[dict]:
    return [{"code": r.code, "rule": str(r.rule), "message": str(r.message), "satisfy": str(r.satisfy)}
            for r in violation.refusals]


def exception_handler(exc, context):
    if isinstance(exc, RuleViolation):
        return Response({"detail": str(exc), "refusals": refusals_payload(exc)},
                        status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = {"detail": _("The request is not valid."), "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    else:
        response.data = {"detail": str(response.data)}
    return response
