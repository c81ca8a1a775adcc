"""What the API shows of each object. Read-only representations, and small input serializers for the actions
(the services validate; a serializer only checks the shape of the input)."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from certification.models import (
    ApiToken,
    Bureau,
    Case,
    Certificate,
    Filing,
    Institution,
    LateInclusion,
    Notice,
    Objection,
    PanelMember,
    RegisterBatch,
    ScoreLine,
    ScoreSheet,
)
from certification.models.base import choice_label
from certification.models.documents import DocumentKind
from certification.selectors import action_label, case_next_step


class ChoiceLabel(serializers.CharField):
    """A choice field's label in the caller's language (what ``get_<name>_display`` gives), from the one table of
    labels per field and language (``choice_label``), not through a method source, whose signature DRF inspects
    on every row."""

    def __init__(self, name: str, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(source="*", **kwargs)
        self.choice = name

    def to_representation(self, instance):
        return choice_label(instance, self.choice)


class BureauRefSerializer(serializers.ModelSerializer):
    level_display = ChoiceLabel("level")

    class Meta:
        model = Bureau
        fields = ["id", "name", "level", "level_display"]


class InstitutionSerializer(serializers.ModelSerializer):
    region_code = serializers.CharField(source="region.code", read_only=True)
    region_name = serializers.CharField(source="region.name", read_only=True)
    level_display = ChoiceLabel("level")

    class Meta:
        model = Institution
        fields = ["id", "name", "uscc", "level", "level_display", "updated_at", "region_code", "region_name", "has_system_guidance", "parent",
                  "fonds_number", "address", "postcode", "head", "archives_leader", "contact_name",
                  "contact_phone"]
        read_only_fields = fields


class NextStepSerializer(serializers.Serializer):
    who = serializers.CharField()
    what = serializers.CharField()
    due = serializers.DateTimeField(allow_null=True)


class LateInclusionSerializer(serializers.ModelSerializer):
    """The bureau's hand inclusion of a late declaration, on the case it let in."""

    bureau = BureauRefSerializer(read_only=True)

    class Meta:
        model = LateInclusion
        fields = ["bureau", "reason", "declare_by", "granted_at"]
        read_only_fields = fields


class CaseSerializer(serializers.ModelSerializer):
    institution_name = serializers.CharField(source="institution.name", read_only=True)
    institution_uscc = serializers.CharField(source="institution.uscc", read_only=True,
                                             help_text=_("The institution's unified social credit code."))
    kind_display = ChoiceLabel("kind")
    certificate_number = serializers.SerializerMethodField()
    grade = serializers.CharField(source="grade.code", read_only=True)
    grade_name = serializers.CharField(source="grade.name", read_only=True)
    bureau = BureauRefSerializer(read_only=True)
    stage_display = ChoiceLabel("stage")
    outcome_display = ChoiceLabel("outcome")
    next_step = serializers.SerializerMethodField()
    late_inclusion = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = ["id", "reference", "institution", "institution_name", "institution_uscc", "grade", "grade_name",
                  "kind", "kind_display", "year", "bureau", "stage", "stage_display", "outcome", "outcome_display",
                  "outcome_reason", "declared_at", "updated_at", "rectification_due_at", "next_step",
                  "late_inclusion", "forwarding_bureau", "forwarded_at", "planning_bureau", "precheck_bureau",
                  "certificate", "certificate_number"]
        read_only_fields = fields

    def get_certificate_number(self, case) -> str | None:
        """The number of the certificate the case ended with (its id is ``certificate``)."""
        return case.certificate.number if case.certificate_id else None

    # One nested serializer per answer, not one per row (making a serializer copies all its fields).
    @cached_property
    def _late_inclusion(self):
        return LateInclusionSerializer()

    @cached_property
    def _next_step(self):
        return NextStepSerializer()

    @extend_schema_field(LateInclusionSerializer(allow_null=True))
    def get_late_inclusion(self, case):
        inclusion = getattr(case, "late_inclusion", None)
        return None if inclusion is None else self._late_inclusion.to_representation(inclusion)

    @extend_schema_field(NextStepSerializer(allow_null=True))
    def get_next_step(self, case):
        step = case_next_step(case)
        return None if step is None else self._next_step.to_representation(step)


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    action = serializers.CharField()
    label = serializers.SerializerMethodField()
    actor = serializers.SerializerMethodField(help_text=_("Who acted: the person's name (empty for the system)."))
    actor_id = serializers.IntegerField(allow_null=True, help_text=_("The user who acted (null for the system)."))
    reason = serializers.CharField()

    def get_label(self, entry) -> str:
        return action_label(entry.action)

    def get_actor(self, entry) -> str:
        return "" if entry.actor is None else str(entry.actor)


class ScoreLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScoreLine
        fields = ["item_code", "entry", "points", "clamps"]
        read_only_fields = fields

    def to_representation(self, line):
        # A page of sheets shows about a thousand lines: each is written directly (the points still through
        # their declared field, so the schema and the output agree) rather than field by field.
        points = self.fields["points"]
        return {"item_code": line.item_code, "entry": line.entry, "points": points.to_representation(line.points),
                "clamps": line.clamps}


class _Line(NamedTuple):
    item_code: str
    entry: dict
    points: Decimal
    clamps: list


class ScoreLinesField(serializers.ListSerializer):
    """A sheet's lines: those a list of sheets read for all its rows at once, else the sheet's own."""

    def get_attribute(self, sheet):
        rows = getattr(sheet, "_line_rows", None)
        return sheet.lines.order_by("id") if rows is None else rows


class ScoreSheetListSerializer(serializers.ListSerializer):
    """A page of sheets: their lines (about a thousand) read in one query as plain rows, not model objects."""

    def to_representation(self, data):
        sheets = list(data.all() if hasattr(data, "all") else data)
        rows = {sheet.pk: [] for sheet in sheets}
        for sheet_id, *line in (ScoreLine.objects.filter(sheet_id__in=list(rows)).order_by("id")
                                .values_list("sheet_id", "item_code", "entry", "points", "clamps")):
            rows[sheet_id].append(_Line(*line))
        for sheet in sheets:
            sheet._line_rows = rows[sheet.pk]
        return super().to_representation(sheets)


class ScoreSheetSerializer(serializers.ModelSerializer):
    lines = ScoreLinesField(child=ScoreLineSerializer(), read_only=True)
    expert_name = serializers.SerializerMethodField()
    kind_display = ChoiceLabel("kind")

    class Meta:
        model = ScoreSheet
        fields = ["id", "case", "kind", "kind_display", "round", "expert", "expert_name", "submitted_at",
                  "updated_at", "total", "lines"]
        read_only_fields = fields
        list_serializer_class = ScoreSheetListSerializer

    def get_expert_name(self, sheet) -> str:
        return "" if sheet.expert_id is None else sheet.expert.name


class DeductionInputSerializer(serializers.Serializer):
    points = serializers.DecimalField(max_digits=7, decimal_places=2, required=False, allow_null=True,
                                      coerce_to_string=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    occurrence = serializers.CharField(required=False, allow_blank=True, max_length=200)
    count = serializers.IntegerField(required=False, min_value=1, max_value=10000)
    element = serializers.CharField(required=False, allow_blank=True, max_length=200)


class EvidenceFileSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, help_text="The file's name, e.g. 登记证明.pdf.")
    content = serializers.CharField(help_text="The file's bytes, base64-encoded.")

    def validate_content(self, value):
        import base64
        import binascii

        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise serializers.ValidationError(_("Not base64."), code="invalid") from None


class DeclarationInputSerializer(serializers.Serializer):
    """A declaration, as on the page: the scheme (one the institution's bureau runs), institution, grade and
    kind, each condition's answer (``yes`` or ``na``) with the evidence of each one met, and the declared
    gates."""

    scheme = serializers.CharField(max_length=40, help_text="The scheme's code, e.g. from the scheme list.")
    institution = serializers.IntegerField(min_value=1)
    grade = serializers.CharField(max_length=40, help_text="The grade's code in the scheme.")
    kind = serializers.ChoiceField(choices=["promotion", "recheck"])
    answers = serializers.DictField(child=serializers.ChoiceField(choices=["yes", "na"]), required=False,
                                    default=dict)
    evidence = serializers.DictField(child=EvidenceFileSerializer(), required=False, default=dict)
    gates = serializers.DictField(child=serializers.BooleanField(), required=False, default=dict)


class ItemEntryInputSerializer(serializers.Serializer):
    """One rubric item as recorded: deductions with reasons, or the facts the item's rule counts."""

    item_code = serializers.CharField(max_length=40)
    deductions = DeductionInputSerializer(many=True, required=False)
    units = serializers.DecimalField(max_digits=9, decimal_places=2, required=False, allow_null=True)
    achieved = serializers.DecimalField(max_digits=9, decimal_places=2, required=False, allow_null=True)
    rate = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True,
                                    min_value=0, max_value=100)
    defective = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100000)
    unmet = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    bonus = serializers.DecimalField(max_digits=7, decimal_places=2, required=False, min_value=0)
    veto = serializers.BooleanField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000,
                                   help_text="Why points are lost beyond the deduction lines (sub-criteria not met).")
    veto_reason = serializers.CharField(required=False, allow_blank=True, max_length=1000,
                                        help_text="What was found that confirms the item's veto condition.")


class NoticeCaseSerializer(serializers.ModelSerializer):
    """A case as the notice publishes it: the applicant's name, the grade and the kind, nothing else."""

    institution_name = serializers.CharField(source="institution.name", read_only=True)
    grade_name = serializers.CharField(source="grade.name", read_only=True)
    kind_display = ChoiceLabel("kind")

    class Meta:
        model = Case
        fields = ["id", "institution_name", "grade_name", "kind", "kind_display"]
        read_only_fields = fields


class NoticeSerializer(serializers.ModelSerializer):
    """A notice as a list shows it: how many cases it lists (``case_count``), not the cases; its detail lists
    them."""

    bureau_name = serializers.CharField(source="bureau.name", read_only=True)
    is_open = serializers.SerializerMethodField()
    case_count = serializers.IntegerField(read_only=True, help_text=_("How many cases the notice lists."))

    class Meta:
        model = Notice
        fields = ["id", "title", "bureau", "bureau_name", "published_at", "closes_at", "closed_at",
                  "extension_reason", "is_open", "updated_at", "case_count"]
        read_only_fields = fields

    def get_is_open(self, notice) -> bool:
        return notice.closed_at is None and notice.published_at <= timezone.now() < notice.closes_at


class NoticeDetailSerializer(NoticeSerializer):
    """One notice with the cases it lists."""

    cases = NoticeCaseSerializer(many=True, read_only=True)

    class Meta(NoticeSerializer.Meta):
        fields = [*NoticeSerializer.Meta.fields, "cases"]
        read_only_fields = fields


class ObjectionFileSerializer(serializers.Serializer):
    case = serializers.IntegerField(min_value=1, max_value=2**62, help_text=_("A case listed on the notice."))
    name = serializers.CharField(max_length=50, allow_blank=True, help_text=_("Your real name."))
    contact = serializers.CharField(max_length=100, allow_blank=True)
    grounds = serializers.CharField(max_length=5000, allow_blank=True)


class ObjectionReceiptSerializer(serializers.Serializer):
    receipt = serializers.CharField()
    received_at = serializers.DateTimeField()


class ObjectionVerificationSerializer(serializers.Serializer):
    experts = serializers.SerializerMethodField()
    findings = serializers.CharField()
    verified_on = serializers.DateField()

    def get_experts(self, verification) -> list[str]:
        return sorted(e.name for e in verification.experts.all())


class ObjectionSerializer(serializers.ModelSerializer):
    status_display = ChoiceLabel("status")
    set_aside_as = serializers.CharField(read_only=True, help_text=_(
        "Why it was set aside: anonymous, or without grounds (empty unless set aside)."))
    set_aside_as_display = ChoiceLabel("set_aside_as")
    verification = serializers.SerializerMethodField()

    def get_verification(self, objection) -> dict | None:
        verification = getattr(objection, "verification", None)
        return ObjectionVerificationSerializer(verification).data if verification is not None else None

    class Meta:
        model = Objection
        fields = ["id", "receipt", "notice", "case", "name", "contact", "anonymous", "grounds", "received_at",
                  "status", "status_display", "set_aside_as", "set_aside_as_display", "resolution", "resolved_at", "verification",
                  "updated_at"]
        read_only_fields = fields


class ObjectionResolveSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[s for s in Objection.Status.choices
                                                if s[0] != Objection.Status.RECEIVED])
    reason = serializers.CharField(max_length=5000, allow_blank=True)
    grade = serializers.CharField(max_length=40, required=False, allow_blank=True,
                                 help_text=_("The lower grade, for a downgrade."))
    set_aside_as = serializers.ChoiceField(choices=Objection.SetAsideAs.choices, required=False, allow_blank=True,
                                           help_text=_("Why it is set aside: anonymous, or without grounds."))


class ObjectionVerifySerializer(serializers.Serializer):
    experts = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**62), max_length=20,
                                    help_text=_("The ids of the two or three experts of the pool who verified it."))
    findings = serializers.CharField(max_length=4000, allow_blank=True)
    verified_on = serializers.DateField()


class CertificateSerializer(serializers.ModelSerializer):
    institution_name = serializers.CharField(source="institution.name", read_only=True)
    institution_uscc = serializers.CharField(source="institution.uscc", read_only=True,
                                             help_text=_("The holder's unified social credit code."))
    kind_display = ChoiceLabel("kind")
    case = serializers.SerializerMethodField(help_text=_("The case that ended with this certificate."))
    grade = serializers.CharField(source="grade.code", read_only=True)
    grade_name = serializers.CharField(source="grade.name", read_only=True)
    issued_by_name = serializers.CharField(source="issued_by.name", read_only=True)
    status_display = ChoiceLabel("status")
    registered = serializers.BooleanField(source="is_registered", read_only=True,
                                          help_text="Registered from the paper register (issued before the engine).")

    class Meta:
        model = Certificate
        fields = ["id", "number", "case", "institution", "institution_name", "institution_uscc", "grade",
                  "grade_name", "kind", "kind_display", "issued_on", "valid_until", "status", "status_display",
                  "issued_by", "issued_by_name", "approved_by", "verification_token", "registered",
                  "register_batch", "letter_number", "updated_at"]
        read_only_fields = fields

    def get_case(self, certificate) -> int | None:
        case = getattr(certificate, "certified_case", None)
        return None if case is None else case.pk


class RegisterMarkSerializer(serializers.Serializer):
    """Where a certificate registered from the paper register came from, as the public may see it."""

    batch = serializers.IntegerField(source="register_batch_id")
    registered_on = serializers.SerializerMethodField()
    registered_by = serializers.CharField(source="register_batch.bureau.name")
    withdrawn = serializers.SerializerMethodField()

    def get_registered_on(self, certificate) -> str:
        return timezone.localdate(certificate.register_batch.created_at).isoformat()

    def get_withdrawn(self, certificate) -> bool:
        return certificate.register_batch.withdrawn_at is not None


class CertificatePublicSerializer(serializers.ModelSerializer):
    """What public verification shows: the same fields as the verification page, nothing private."""

    holder = serializers.CharField(source="institution.name", read_only=True)
    grade_name = serializers.CharField(source="grade.name", read_only=True)
    issued_by_name = serializers.CharField(source="issued_by.name", read_only=True)
    status_display = ChoiceLabel("status")
    kind_display = ChoiceLabel("kind")
    register = serializers.SerializerMethodField(help_text="Set for a certificate registered from the paper "
                                                           "register: by which bureau, when, which import.")

    class Meta:
        model = Certificate
        fields = ["number", "holder", "grade_name", "kind", "kind_display", "issued_by_name", "issued_on",
                  "valid_until", "status", "status_display", "register"]
        read_only_fields = fields

    @extend_schema_field(RegisterMarkSerializer(allow_null=True))
    def get_register(self, certificate):
        return RegisterMarkSerializer(certificate).data if certificate.is_registered else None


class ImportRequestSerializer(serializers.Serializer):
    """An .xlsx import, as on the spreadsheets page (the columns of the downloadable template)."""

    kind = serializers.ChoiceField(choices=["institutions", "experts", "employments", "certificates"])
    bureau = serializers.IntegerField(help_text="The bureau imported for (for certificates, the province).")
    file = serializers.FileField()
    good_rows_only = serializers.BooleanField(default=False)
    dry_run = serializers.BooleanField(default=False)
    expiry_reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    scans = serializers.FileField(required=False, help_text="Certificates: a .zip of the scans the sheet names.")


class ImportCellSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    column = serializers.CharField()
    header = serializers.CharField()
    message = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    kind = serializers.CharField()
    rows = serializers.IntegerField()
    imported = serializers.IntegerField()
    ready = serializers.IntegerField()
    dry_run = serializers.BooleanField()
    good_rows_only = serializers.BooleanField()
    batch = serializers.IntegerField(allow_null=True)
    errors = ImportCellSerializer(many=True)
    notes = ImportCellSerializer(many=True)


class RegisterBatchSerializer(serializers.ModelSerializer):
    certificates = serializers.IntegerField(source="certificates_count", read_only=True)
    imported_by = serializers.CharField(source="imported_by.username", read_only=True)

    class Meta:
        model = RegisterBatch
        fields = ["id", "bureau", "imported_by", "created_at", "source", "certificates", "expiry_reason",
                  "withdrawn_at", "withdrawal_reason", "updated_at"]
        read_only_fields = fields


class WithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class FiledDocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    kind_display = serializers.SerializerMethodField()
    number = serializers.CharField(allow_blank=True)
    sha256 = serializers.CharField()

    def get_kind_display(self, document) -> str:
        kind = document.get("kind", "")
        return str(DocumentKind(kind).label) if kind in DocumentKind.values else kind


class FilingSerializer(serializers.ModelSerializer):
    """A case filed with a bureau (备案): when, by whom, and the approval documents as they were filed."""

    reference = serializers.CharField(source="case.reference", read_only=True)
    institution = serializers.IntegerField(source="case.institution_id", read_only=True)
    institution_name = serializers.CharField(source="case.institution.name", read_only=True)
    grade = serializers.CharField(source="case.grade.code", read_only=True)
    grade_name = serializers.CharField(source="case.grade.name", read_only=True)
    bureau_name = serializers.CharField(source="bureau.name", read_only=True)
    approved_by = serializers.IntegerField(source="case.bureau_id", read_only=True)
    approved_by_name = serializers.CharField(source="case.bureau.name", read_only=True)
    filed_by_name = serializers.SerializerMethodField()
    documents = FiledDocumentSerializer(many=True, read_only=True)

    class Meta:
        model = Filing
        fields = ["id", "case", "reference", "institution", "institution_name", "grade", "grade_name", "bureau",
                  "bureau_name", "approved_by", "approved_by_name", "filed_at", "filed_by_name", "documents",
                  "updated_at"]
        read_only_fields = fields

    def get_filed_by_name(self, filing) -> str:
        return str(filing.filed_by or "")


class PanelSeatSerializer(serializers.ModelSerializer):
    """A panel member's seat: the case and applicant it is for, and where its recusal declaration stands."""

    case = serializers.IntegerField(source="panel.case_id", read_only=True)
    case_reference = serializers.CharField(source="panel.case.reference", read_only=True)
    institution = serializers.CharField(source="panel.case.institution.name", read_only=True)
    expert = serializers.CharField(source="expert.name", read_only=True)

    class Meta:
        model = PanelMember
        fields = ["id", "case", "case_reference", "institution", "expert", "is_chair", "recusal_declared_at",
                  "conflict_declared_at", "updated_at"]


class ConflictInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text=_("Why the member has a conflict of interest."))


class TokenObtainSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    otp = serializers.CharField(max_length=32, required=False, allow_blank=True,
                                help_text=_("The code of the second factor, for the roles that need one."))
    name = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                 help_text=_("A name for the token (where it is used)."))
    days = serializers.IntegerField(min_value=1, required=False, help_text=_("How many days it is valid."))


class ApiTokenSerializer(serializers.ModelSerializer):
    live = serializers.BooleanField(source="is_live", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at", "live"]
        read_only_fields = fields


class TokenCreatedSerializer(serializers.Serializer):
    token = serializers.CharField(help_text=_("The token itself: shown only now."))
    api_token = ApiTokenSerializer()
