"""Loading a scheme version: validate, store its spec and its rubric rows, make it current."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from ..exceptions import Refusal, RuleViolation
from ..models import Grade, RubricCategory, RubricItem, RubricSubCriterion, Scheme, SchemeVersion
from ..scheme import SchemeSpec
from .audit import audit_record


@dataclass(frozen=True)
class LoadResult:
    version: SchemeVersion
    created: bool


@transaction.atomic
def scheme_load(*, spec: SchemeSpec, source: str = "") -> LoadResult:
    """Store ``spec`` as a new version, or confirm it is already stored (same digest: a no-op).

    A version number already stored with other content is refused: a new version never changes a running
    case, so a changed scheme is loaded under a new number. The highest version becomes current.
    """
    scheme, _created = Scheme.objects.get_or_create(code=spec.code, defaults={"title": spec.title})
    scheme = Scheme.objects.select_for_update().get(pk=scheme.pk)
    digest = spec.digest()
    existing = SchemeVersion.objects.filter(scheme=scheme, number=spec.version).first()
    if existing is not None:
        # The stored spec read by today's code: a field added to the format since it was loaded takes its
        # default, so a release that adds a field does not make the same file look changed.
        if existing.digest != digest and SchemeSpec.model_validate(existing.spec).digest() != digest:
            raise RuleViolation(Refusal(
                code="scheme.version_changed",
                rule=_("A scheme version never changes"),
                message=_("Version %(n)d of %(code)s is already loaded with other content.")
                % {"n": spec.version, "code": spec.code},
                satisfy=_("Give the changed scheme a new version number."),
            ))
        return LoadResult(existing, created=False)

    version = SchemeVersion.objects.create(
        scheme=scheme,
        number=spec.version,
        title=spec.title,
        source=spec.source,
        effective_from=spec.effective_from,
        spec=spec.to_json(),
        digest=digest,
        loaded_from=source[:200],
    )
    Grade.objects.bulk_create(
        Grade(version=version, code=g.code, name=g.name, rank=g.rank, decision=g.decision, pass_line=g.pass_line)
        for g in spec.grades
    )
    for rubric_code, rubric in spec.rubrics.items():
        for c_pos, category in enumerate(rubric.categories):
            cat = RubricCategory.objects.create(
                version=version, rubric=rubric_code, code=category.code, name=category.name,
                max_points=category.max_points, position=c_pos,
            )
            for i_pos, item in enumerate(category.items):
                params = item.rule.model_dump(mode="json", exclude_defaults=True)
                params.pop("kind", None)
                row = RubricItem.objects.create(
                    category=cat, code=item.code, name=item.name, text=item.text, max_points=item.max_points,
                    rule_kind=item.rule.kind, rule_params=params, key=item.key,
                    veto=item.veto.model_dump(mode="json") if item.veto else None,
                    bonus=item.bonus.model_dump(mode="json") if item.bonus else None,
                    pool=item.pool or "", verify=list(item.verify), evidence_hint=item.evidence_hint,
                    deduction_guide=item.deduction_guide, position=i_pos,
                )
                RubricSubCriterion.objects.bulk_create(
                    RubricSubCriterion(item=row, code=s.code, text=s.text, points=s.points, key=s.key, position=p)
                    for p, s in enumerate(item.sub_criteria)
                )
    latest = SchemeVersion.objects.filter(scheme=scheme).order_by("-number").first()
    if latest.pk == version.pk:
        SchemeVersion.objects.filter(scheme=scheme, is_current=True).update(is_current=False)
        SchemeVersion.objects.filter(pk=version.pk).update(is_current=True)
        scheme.title = spec.title
        scheme.save(update_fields=["title", "updated_at"])
        version.is_current = True
    audit_record(actor=None, action="scheme.load", target=version, after={
        "scheme": spec.code, "version": spec.version, "digest": digest, "source": source[:200],
        "current": version.is_current})
    return LoadResult(version, created=True)
