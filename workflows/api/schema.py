"""Every operation documents the error answers it can give, in the one error shape of ``exceptions``."""

from django.utils.translation import gettext_lazy as _

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

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
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
        "errors": {"type": "object", "additionalProperties": True},
    },
    "required": ["detail"],
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the error component and the error answers."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_STATUSES.items():
                responses.setdefault(code, {
                    "description": str(description),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                })
    return result
