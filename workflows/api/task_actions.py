"""What each task accepts, for a machine: every action of the process's human tasks with the fields of its form,
as a typed schema. The forms stay the one definition (the pages use them, ``task_act`` validates with them);
this module only reads them, so a field added to a form appears in the API's schema by itself.

An action's name may be shared by several tasks (``decide`` is the pre-checker's, the bureau's on a delegated
pre-check and the approver's): its schema then lists the fields of every such form, each saying which tasks take
it, and requires only what all of them require. Forms that add fields per case (one opinion per rubric item, one
score per item) say so and allow those extra fields."""

from __future__ import annotations

from functools import cache

from django import forms

FORM_FIELD_TYPES: list[tuple[type, dict]] = [
    (forms.ModelMultipleChoiceField, {"type": "array", "items": {"type": "integer", "minimum": 1}}),
    (forms.ModelChoiceField, {"type": "integer", "minimum": 1}),
    (forms.MultipleChoiceField, {"type": "array", "items": {"type": "string"}}),
    (forms.BooleanField, {"type": "boolean"}),
    (forms.IntegerField, {"type": "integer"}),
    (forms.DecimalField, {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}),
    (forms.DateTimeField, {"type": "string", "format": "date-time"}),
    (forms.DateField, {"type": "string", "format": "date"}),
    (forms.FileField, {"type": "string", "format": "binary"}),
]


def human_views() -> list[tuple[str, type]]:
    """(title, view class) of every human task of the case process."""
    from ..flows import CaseFlow

    found = []
    for node in CaseFlow.instance.nodes():
        view = getattr(getattr(node, "view", None), "view_class", None)
        if view is not None and getattr(view, "actions", ()):
            found.append((str(node.task_title or node.name), view))
    return found


def _form_class(view, action):
    try:
        return view.form_class(view, action)  # the classes choose by action alone
    except (AttributeError, KeyError, TypeError):
        return forms.Form


def field_schema(field) -> dict:
    schema: dict = {"type": "string"}
    for kind, shape in FORM_FIELD_TYPES:
        if isinstance(field, kind):
            schema = dict(shape)
            break
    else:
        choices = getattr(field, "choices", None)
        if isinstance(field, forms.ChoiceField) and choices:
            values = [str(value) for value, _label in choices if value not in ("", None)]
            if values:
                schema["enum"] = values
    for attribute, keyword in (("min_value", "minimum"), ("max_value", "maximum"), ("max_length", "maxLength")):
        value = getattr(field, attribute, None)
        if value is not None and not isinstance(field, forms.DecimalField):
            schema[keyword] = int(value) if keyword == "maxLength" else value
    if isinstance(field, forms.DecimalField) and field.max_value is not None:
        schema["description"] = f"At most {field.max_value}."
    label = str(field.label or "")
    if label:
        schema["title"] = label
    return schema


def merged(one: dict, other: dict) -> dict:
    """One field of the same name in two forms: the values either takes."""
    if one == other:
        return one
    if one.get("type") == other.get("type") and "enum" in one and "enum" in other:
        return {**one, "enum": sorted(set(one["enum"]) | set(other["enum"]))}
    if one.get("type") == other.get("type"):
        return {key: value for key, value in one.items() if key in ("type", "title", "format")}
    return {"anyOf": [one, other], "title": one.get("title", "")}


@cache
def catalogue() -> dict[str, dict]:
    """For each action: the tasks that take it, and its fields (name → schema, required, tasks)."""
    from django.utils import translation

    found: dict[str, dict] = {}
    with translation.override("en"):
        for title, view in human_views():
            for action in view.actions:
                entry = found.setdefault(action, {"tasks": [], "fields": {}, "required": None,
                                                  "per_case_fields": False, "files": False})
                entry["tasks"].append(title)
                form_class = _form_class(view, action)
                fields = form_class.base_fields
                required = {name for name, f in fields.items() if f.required}
                entry["required"] = required if entry["required"] is None else entry["required"] & required
                if "__init__" in vars(form_class) or action == "item":
                    entry["per_case_fields"] = True
                for name, field in fields.items():
                    if isinstance(field.widget, forms.HiddenInput) and name not in ("objection", "sheet"):
                        continue
                    known = entry["fields"].setdefault(name, {"schema": field_schema(field), "tasks": []})
                    known["schema"] = merged(known["schema"], field_schema(field))
                    known["tasks"].append(title)
                    entry["files"] = entry["files"] or isinstance(field, forms.FileField)
    return found


def action_component(action: str, entry: dict) -> dict:
    properties = {}
    for name, field in sorted(entry["fields"].items()):
        schema = dict(field["schema"])
        if len(field["tasks"]) < len(entry["tasks"]):
            schema["description"] = (schema.get("description", "") + " Taken by: "
                                     + "; ".join(sorted(set(field["tasks"]))) + ".").strip()
        properties[name] = schema
    if action == "item":
        properties["item"] = {"type": "string", "title": "The rubric item's code", "maxLength": 40}
    data = {"type": "object", "properties": properties}
    required = sorted((entry["required"] or set()) | ({"item"} if action == "item" else set()))
    if required:
        data["required"] = required
    if entry["per_case_fields"]:
        data["additionalProperties"] = True
        data["description"] = ("The form may ask further fields that depend on the case (e.g. one per rubric "
                               "item); the task's page names them.")
    else:
        data["additionalProperties"] = False
    body = {"type": "object",
            "description": f"Action '{action}', taken by: " + "; ".join(sorted(set(entry["tasks"]))) + ".",
            "properties": {"action": {"type": "string", "enum": [action]}, "data": data},
            "required": ["action"]}
    if required:
        body["required"] = ["action", "data"]
    return body


def component_name(action: str) -> str:
    return "TaskAction" + "".join(part.capitalize() for part in action.split("_"))


def add_task_action_schemas(result: dict) -> dict:
    """The complete operation's body: one schema per action, chosen by ``action`` (a discriminated oneOf)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    mapping = {}
    for action, entry in sorted(catalogue().items()):
        name = component_name(action)
        schemas[name] = action_component(action, entry)
        mapping[action] = f"#/components/schemas/{name}"
    union = {"oneOf": [{"$ref": ref} for ref in mapping.values()],
             "discriminator": {"propertyName": "action", "mapping": mapping}}
    schemas["TaskActionRequest"] = union
    for path in result.get("paths", {}).values():
        operation = path.get("post")
        if operation and operation.get("operationId") == "tasks_complete_create":
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/TaskActionRequest"}}}}
        operation = path.get("post")
        if operation and operation.get("operationId") == "tasks_upload_create":
            uploads = sorted(action for action, entry in catalogue().items() if entry["files"])
            files = sorted({name for action in uploads for name, field in catalogue()[action]["fields"].items()
                            if field["schema"].get("format") == "binary"})
            operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object",
                "description": "An action that uploads a file (" + ", ".join(uploads) + "): `action`, the "
                               "other fields in `data` as a JSON object in text, and the file under its field's "
                               "name.",
                "properties": {"action": {"type": "string", "enum": uploads},
                               "data": {"type": "string", "description": "The action's other fields, as JSON."},
                               **{name: {"type": "string", "format": "binary"} for name in files}},
                "required": ["action"]}}}}
    return result
