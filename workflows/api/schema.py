"""The schema: every operation documents the error answers it can give, in the one error shape of
``exceptions``; public operations say they need no authentication; detail reads document their conditional
answer (304). The schema is drawn in English whatever the caller's language, so that generated clients keep
the same names: labels are data (``*_display``), never part of the schema."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

ERROR_STATUSES = {
    "400": _("The request is not valid, or a rule refuses it."),
    "401": _("Not signed in."),
    "403": _("Not allowed."),
    "404": _("Not found (or not yours)."),
    "406": _("The requested format is not available."),
    "409": _("The task is no longer open, or it is someone else's: nothing was changed."),
    "415": _("The request body's format is not supported."),
    "429": _("Too many requests. Please wait."),
}

FIELD_ERROR_SCHEMA = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    "required": ["code", "message"],
}

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "What went wrong, for a machine: invalid, rule_refused, "
                                                  "not_found, not_authenticated, authentication_failed, "
                                                  "permission_denied, throttled, …"},
        "refusals": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "code": {"type": "string"},
                    "rule": {"type": "string"},
                    "message": {"type": "string"},
                    "satisfy": {"type": "string"},
                },
                "required": ["code", "rule", "message", "satisfy"],
            },
        },
        "errors": {"type": "object", "description": "Each wrong field (a dotted path; non_field_errors for the "
                                                    "request as a whole) with its errors.",
                   "additionalProperties": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}}},
    },
    "required": ["detail", "code"],
}

CONDITIONAL_PARAMETERS = [
    {"in": "header", "name": "If-None-Match", "required": False, "schema": {"type": "string"},
     "description": "The ETag of the copy held: 304 if it is still the same."},
    {"in": "header", "name": "If-Modified-Since", "required": False, "schema": {"type": "string"},
     "description": "The Last-Modified of the copy held (used when no ETag is sent)."},
]
CONDITIONAL_HEADERS = {
    "ETag": {"schema": {"type": "string"}, "description": "A tag of this representation."},
    "Last-Modified": {"schema": {"type": "string"}, "description": "When the object last changed."},
}


class AutoSchema(SpectacularAutoSchema):
    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None and self.get_auth() == []:
            operation["security"] = []  # explicit: this operation needs no authentication
        return operation


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the error component and the error answers."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    schemas["FieldError"] = FIELD_ERROR_SCHEMA
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["schema"].get("pattern") == "^[0-9]+$":
                    parameter["schema"] = {"type": "integer", "minimum": 1}  # an id: a whole number from 1
            responses = operation.setdefault("responses", {})
            if method == "get" and operation.get("operationId", "").endswith("_retrieve") and "200" in responses:
                operation.setdefault("parameters", []).extend(CONDITIONAL_PARAMETERS)
                responses["200"]["headers"] = CONDITIONAL_HEADERS
                responses["304"] = {"description": "Not modified: the copy held is current.",
                                    "headers": CONDITIONAL_HEADERS}
            for code, description in ERROR_STATUSES.items():
                responses.setdefault(code, {
                    "description": str(description),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                })
    return result


def add_task_actions(result, generator, request, public):
    """drf-spectacular postprocessing hook: the complete operation's body, one typed schema per action."""
    from .task_actions import add_task_action_schemas

    return add_task_action_schemas(result)
