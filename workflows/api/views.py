"""The API's views. Each list comes from a selector that knows what the caller may see, so that another's
object answers 404 like a missing one; each action calls one service, which validates as it does for the UI."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView
from rest_framework import mixins, status, viewsets
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import action, api_view, permission_classes, throttle_classes
from rest_framework.exceptions import AuthenticationFailed, NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from certification import scoring
from certification.models import (
    ApiToken,
    Case,
    Expert,
    LateInclusion,
    Notice,
    PanelMember,
    RegisterBatch,
)
from certification.selectors import (
    case_timeline,
    cases_for_user,
    certificate_public,
    certificates_for_user,
    filings_for_user,
    import_bureaus_for,
    institutions_for_user,
    notices_public,
    objections_for_user,
    panel_seats_for_user,
    register_batches_for,
    sheets_for_user,
)
from certification.services import signin, spreadsheets
from certification.services.certificates import register_batch_withdraw
from certification.services.notices import objection_file
from certification.services.sheets import self_check_sheet, sheet_record, sheet_submit

from .. import actions
from . import filters, serializers
from .conditional import SyncedDetail
from .pagination import InOrderOfRecord


class InstitutionViewSet(SyncedDetail, viewsets.ReadOnlyModelViewSet):
    """Institutions: the caller's own, those in its bureaus' regions, and the applicants of its cases."""

    serializer_class = serializers.InstitutionSerializer
    filterset_class = filters.InstitutionFilter
    ordering_fields = ["id", "name", "uscc", "level", "updated_at"]
    ordering = ["id"]

    def get_queryset(self):
        return institutions_for_user(self.request.user).select_related("region")


class CaseViewSet(SyncedDetail, viewsets.ReadOnlyModelViewSet):
    """Cases with their stage, outcome and next step; the timeline of each; the applicant's self-check."""

    serializer_class = serializers.CaseSerializer
    filterset_class = filters.CaseFilter
    ordering_fields = ["id", "declared_at", "reference", "year", "updated_at"]
    ordering = ["-declared_at", "-id"]

    def get_queryset(self):
        # What the rows name beyond the case's own bureau (the late inclusion and its bureau, the forwarding,
        # planning and pre-checking bureaus a next step names, the scheme version that dates a forwarding) is
        # read once per page, by prefetch: joined in, each further join to the bureaus multiplies the orders
        # PostgreSQL's planner weighs (about 20 ms of planning for a 1 ms query).
        return cases_for_user(self.request.user).select_related(
            "institution", "grade", "bureau", "panel", "certificate").prefetch_related(
            Prefetch("late_inclusion", LateInclusion.objects.select_related("bureau")),
            "forwarding_bureau", "planning_bureau", "precheck_bureau", "scheme_version")

    @extend_schema(request=serializers.DeclarationInputSerializer, responses={201: serializers.CaseSerializer},
                   filters=False)
    def create(self, request):
        """Declare: the same service as the declaration page (every rule checked, all refusals together;
        nothing stored unless accepted), and the case's process started."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        from certification.selectors import schemes_open_to

        given = serializers.DeclarationInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        institution = institutions_for_user(request.user).filter(pk=data["institution"]).first()
        if institution is None:
            raise ValidationError({"institution": [_("No such institution of yours.")]}, code="does_not_exist")
        version = next((v for v in schemes_open_to(institution) if v.scheme.code == data["scheme"]), None)
        if version is None:
            raise ValidationError({"scheme": [_("Choose one of the schemes its bureau runs.")]}, code="invalid_choice")
        spec = version.specification()
        errors = {}
        if data["grade"] not in {g.code for g in spec.grades}:
            errors["grade"] = [_("No such grade in this scheme.")]
        conditions = {p.code for p in spec.prerequisites}
        for name in ("answers", "evidence"):
            stray = sorted(set(data[name]) - conditions)
            if stray:
                errors[name] = [_("No such condition in this scheme: %(codes)s.") % {"codes": ", ".join(stray)}]
        stray = sorted(set(data["gates"]) - {g.code for g in spec.gates if g.check == "declared"})
        if stray:
            errors["gates"] = [_("No such condition in this scheme: %(codes)s.") % {"codes": ", ".join(stray)}]
        if errors:
            raise ValidationError(errors, code="invalid")
        evidence = {code: SimpleUploadedFile(f["name"], f["content"]) for code, f in data["evidence"].items()}
        case = actions.case_declare(actor=request.user, institution=institution, grade=data["grade"],
                                    kind=data["kind"], answers=data["answers"], evidence=evidence,
                                    gates=data["gates"], scheme=data["scheme"])
        case = self.get_queryset().get(pk=case.pk)
        return Response(serializers.CaseSerializer(case).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=serializers.TimelineEntrySerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filter_backends=[])
    def timeline(self, request, pk=None):
        """Every audited event of the case, oldest first (who, when, what, why)."""
        paginator = InOrderOfRecord()
        page = paginator.paginate_queryset(case_timeline(self.get_object()), request, view=self)
        return paginator.get_paginated_response(serializers.TimelineEntrySerializer(page, many=True).data)

    @extend_schema(request=None, responses={201: serializers.ScoreSheetSerializer}, filters=False)
    @action(detail=True, methods=["post"], url_path="self-check", filter_backends=[])
    def self_check(self, request, pk=None):
        """The applicant's self-check sheet for the current round (opened if there is none yet)."""
        sheet = self_check_sheet(actor=request.user, case=self.get_object())
        return Response(serializers.ScoreSheetSerializer(sheet).data, status=status.HTTP_201_CREATED)


class ScoreSheetViewSet(SyncedDetail, viewsets.ReadOnlyModelViewSet):
    """Score sheets: the applicant's self-scores, each member's proposals and the panel's score, item by
    item. Recording and submitting go through the same services as the forms."""

    serializer_class = serializers.ScoreSheetSerializer
    filterset_class = filters.ScoreSheetFilter
    ordering_fields = ["id", "round", "submitted_at", "updated_at"]
    ordering = ["id"]

    def get_queryset(self):
        # The lines of a page of sheets are read by the list serializer, in one query (ScoreSheetListSerializer).
        return sheets_for_user(self.request.user).select_related("expert")

    @extend_schema(request=serializers.ItemEntryInputSerializer, responses=serializers.ScoreSheetSerializer,
                   filters=False)
    @action(detail=True, methods=["post"], filter_backends=[])
    def record(self, request, pk=None):
        """Record what was found for one item; the scheme's rule gives the score."""
        sheet = self.get_object()
        data = serializers.ItemEntryInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = {k: (str(v) if v is not None and not isinstance(v, (bool, list)) else v)
                  for k, v in data.validated_data.items() if k != "item_code"}
        values["deductions"] = [{k: (str(v) if k == "points" and v is not None else v) for k, v in d.items()}
                                for d in data.validated_data.get("deductions", [])]
        entry = scoring.entry_from_dict(values)
        sheet_record(actor=request.user, sheet=sheet, item_code=data.validated_data["item_code"], entry=entry)
        return Response(serializers.ScoreSheetSerializer(self.get_queryset().get(pk=sheet.pk)).data)

    @extend_schema(request=None, responses=serializers.ScoreSheetSerializer, filters=False)
    @action(detail=True, methods=["post"], filter_backends=[])
    def submit(self, request, pk=None):
        """Submit a complete sheet: it is locked and its total kept."""
        sheet = sheet_submit(actor=request.user, sheet=self.get_object())
        return Response(serializers.ScoreSheetSerializer(self.get_queryset().get(pk=sheet.pk)).data)


class PanelSeatViewSet(SyncedDetail, viewsets.ReadOnlyModelViewSet):
    """The caller's seats on review panels. Before seeing anything else of a case, a member signs its recusal
    declaration (回避声明) here or on the web page, or declares a conflict of interest, which gives the seat up
    for the bureau to fill."""

    serializer_class = serializers.PanelSeatSerializer
    filterset_class = filters.sync_filterset(PanelMember)
    ordering_fields = ["id", "updated_at"]
    ordering = ["id"]

    def get_queryset(self):
        return panel_seats_for_user(self.request.user).select_related("panel__case__institution", "expert")

    @extend_schema(request=None, responses=serializers.PanelSeatSerializer)
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        """Sign the recusal declaration: the case's materials and the member's sheet open to them."""
        seat = actions.panel_sign_recusal(actor=request.user, member=self.get_object())
        return Response(serializers.PanelSeatSerializer(self.get_queryset().get(pk=seat.pk)).data)

    @extend_schema(request=serializers.ConflictInputSerializer, responses=serializers.PanelSeatSerializer)
    @action(detail=True, methods=["post"], url_path="declare-conflict")
    def declare_conflict(self, request, pk=None):
        """Declare a conflict of interest instead of signing, with the reason: the bureau names a replacement."""
        data = serializers.ConflictInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        seat = actions.panel_declare_conflict(actor=request.user, member=self.get_object(),
                                              reason=data.validated_data["reason"])
        return Response(serializers.PanelSeatSerializer(seat).data)


class PublicThrottleMixin:
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "public"


@extend_schema_view(list=extend_schema(auth=[]), retrieve=extend_schema(auth=[]))
class NoticeViewSet(SyncedDetail, viewsets.ReadOnlyModelViewSet):
    """Public notices (no sign-in needed): the cases listed, open or closed; objections to an open one."""

    serializer_class = serializers.NoticeSerializer
    filterset_class = filters.NoticeFilter
    permission_classes = [AllowAny]
    ordering_fields = ["id", "published_at", "closes_at", "updated_at"]
    ordering = ["-published_at", "-id"]

    def get_serializer_class(self):
        # A list carries each notice's case count; one notice lists its cases.
        return serializers.NoticeDetailSerializer if self.action == "retrieve" else serializers.NoticeSerializer

    def get_queryset(self):
        # The count is a subquery on the notice-case table, worked out for the page's rows only.
        listed = (Notice.cases.through.objects.filter(notice_id=OuterRef("pk")).order_by()
                  .values("notice_id").annotate(n=Count("*")).values("n"))
        notices = notices_public().annotate(case_count=Coalesce(Subquery(listed), 0))
        if self.action == "retrieve":
            notices = notices.prefetch_related(Prefetch(
                "cases", Case.objects.select_related("institution", "grade").only(
                    "id", "kind", "institution__name", "grade__name")))
        return notices

    @extend_schema(request=serializers.ObjectionFileSerializer,
                   responses={201: serializers.ObjectionReceiptSerializer}, filters=False, auth=[])
    @action(detail=True, methods=["post"], permission_classes=[AllowAny], throttle_classes=[ScopedRateThrottle],
            filter_backends=[])
    def objections(self, request, pk=None):
        """File a real-name objection to a case on an open notice; the answer is the receipt number."""
        notice = self.get_object()
        data = serializers.ObjectionFileSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        # A case that is not on this notice is refused by the service, which alone says so.
        case = notice.cases.filter(pk=values["case"]).first() or Case(pk=values["case"])
        objection = objection_file(notice=notice, case=case, name=values["name"], contact=values["contact"],
                                   grounds=values["grounds"])
        return Response(serializers.ObjectionReceiptSerializer(objection).data, status=status.HTTP_201_CREATED)

    def get_throttles(self):
        if self.action == "objections":
            self.throttle_scope = "objection"
        return super().get_throttles()


class ObjectionViewSet(SyncedDetail, viewsets.ReadOnlyModelViewSet):
    """Objections with the objector's name and contact: the publishing bureau's staff and auditors only."""

    serializer_class = serializers.ObjectionSerializer
    filterset_class = filters.ObjectionFilter
    ordering_fields = ["id", "received_at", "updated_at"]
    ordering = ["id"]

    def get_queryset(self):
        return (objections_for_user(self.request.user).select_related("verification")
                .prefetch_related("verification__experts"))

    @extend_schema(request=serializers.ObjectionResolveSerializer, responses=serializers.ObjectionSerializer,
                   filters=False)
    @action(detail=True, methods=["post"], filter_backends=[])
    def resolve(self, request, pk=None):
        """Resolve after verifying: dismiss, set aside, downgrade the grade, or uphold. With the case's last
        pending objection resolved, the bureau's "resolve the objections" task is completed, as on its page."""
        data = serializers.ObjectionResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        objection = actions.objection_resolve(actor=request.user, objection=self.get_object(),
                                              decision=data.validated_data["decision"],
                                              reason=data.validated_data["reason"],
                                              grade=data.validated_data.get("grade") or None,
                                              set_aside_as=data.validated_data.get("set_aside_as") or "")
        return Response(serializers.ObjectionSerializer(objection).data)

    @extend_schema(request=serializers.ObjectionVerifySerializer, responses=serializers.ObjectionSerializer,
                   filters=False)
    @action(detail=True, methods=["post"], filter_backends=[])
    def verify(self, request, pk=None):
        """Record that two or three experts of the pool verified the objection: their findings and the day.
        The objection is then resolved as usual."""
        objection = self.get_object()
        data = serializers.ObjectionVerifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wanted = data.validated_data["experts"]
        found = {e.pk: e for e in Expert.objects.filter(pk__in=wanted)}
        missing = [pk for pk in wanted if pk not in found]
        if missing:
            raise ValidationError({"experts": [_("There is no expert %(id)s.") % {"id": missing[0]}]})
        actions.objection_verify(actor=request.user, objection=objection, experts=list(found.values()),
                                 findings=data.validated_data["findings"],
                                 verified_on=data.validated_data["verified_on"])
        objection.refresh_from_db()
        return Response(serializers.ObjectionSerializer(objection).data)


class CertificateViewSet(SyncedDetail, viewsets.ReadOnlyModelViewSet):
    """Certificates: the caller's institutions' and those its bureaus issued or approved."""

    serializer_class = serializers.CertificateSerializer
    filterset_class = filters.CertificateFilter
    ordering_fields = ["id", "issued_on", "valid_until", "number", "updated_at"]
    ordering = ["-issued_on", "-id"]

    def get_queryset(self):
        return certificates_for_user(self.request.user).select_related("institution", "grade", "issued_by",
                                                                       "certified_case")

    @extend_schema(responses={(200, "application/json"): OpenApiTypes.OBJECT}, operation_id="certificate_credential")
    @action(detail=True, methods=["get"])
    def credential(self, request, pk=None):
        """The certificate's signed Open Badges 3.0 credential (W3C VC 2.0, ``ecdsa-jcs-2019`` proof), as JSON."""
        from certification.services.signing import certificate_credential_get

        return Response(certificate_credential_get(certificate=self.get_object()))


class ImportView(APIView):
    """Import an .xlsx sheet (institutions, experts, experts' past employments, or the paper register of
    certificates already held), as on the spreadsheets page: every cell checked, all or nothing unless
    ``good_rows_only``, nothing stored on a ``dry_run``. Answers the report (400 when nothing was imported for
    bad rows)."""

    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": serializers.ImportRequestSerializer},
                   responses=serializers.ImportReportSerializer, operation_id="import_xlsx")
    def post(self, request):
        given = serializers.ImportRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        bureau = next((b for b in import_bureaus_for(request.user) if b.pk == data["bureau"]), None)
        if bureau is None:
            raise NotFound(_("No bureau matches."))
        scans = spreadsheets.scans_from_zip(data["scans"]) if data.get("scans") else {}
        report = spreadsheets.import_dispatch(data["kind"])(
            actor=request.user, bureau=bureau, content=data["file"], good_rows_only=data["good_rows_only"],
            source=data["file"].name, dry_run=data["dry_run"], expiry_reason=data["expiry_reason"], scans=scans)
        failed = bool(report.errors) and not report.imported and not report.dry_run
        return Response(serializers.ImportReportSerializer(report).data,
                        status=status.HTTP_400_BAD_REQUEST if failed else status.HTTP_200_OK)


class RegisterBatchViewSet(SyncedDetail, viewsets.ReadOnlyModelViewSet):
    """The register imports (certificates already held) of the caller's province, as its certificate officer."""

    serializer_class = serializers.RegisterBatchSerializer
    filterset_class = filters.sync_filterset(RegisterBatch)
    ordering_fields = ["id", "created_at", "updated_at"]
    ordering = ["-id"]

    def get_queryset(self):
        return register_batches_for(self.request.user)

    @extend_schema(request=serializers.WithdrawSerializer, responses=serializers.RegisterBatchSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        """Withdraw the whole import, made in error, within the grace period: its certificates are revoked
        ("imported in error"), never deleted."""
        data = serializers.WithdrawSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        register_batch_withdraw(actor=request.user, batch=self.get_object(), reason=data.validated_data["reason"])
        return Response(serializers.RegisterBatchSerializer(self.get_queryset().get(pk=pk)).data)


class FilingViewSet(SyncedDetail, viewsets.ReadOnlyModelViewSet):
    """Filings (备案): the approved rechecks filed with the caller's bureaus or with the bureaus below them."""

    serializer_class = serializers.FilingSerializer
    filterset_class = filters.FilingFilter
    ordering_fields = ["id", "filed_at", "updated_at"]
    ordering = ["-filed_at", "-id"]

    def get_queryset(self):
        return filings_for_user(self.request.user).select_related(
            "bureau", "filed_by", "case__institution", "case__grade", "case__bureau")


class VerifyView(PublicThrottleMixin, APIView):
    """Public verification of a certificate by its number (``?number=``) or its QR token. No sign-in."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[OpenApiParameter("number", OpenApiTypes.STR, required=True,
                                                description=str(_("The certificate number.")))],
                   responses=serializers.CertificatePublicSerializer, operation_id="verify_by_number", auth=[])
    def get(self, request, token: str | None = None):
        number = (request.query_params.get("number") or "").strip()
        certificate = certificate_public(token=token, number=None if token else number[:40] or None)
        if certificate is None:
            raise NotFound(_("No certificate matches."))
        return Response(serializers.CertificatePublicSerializer(certificate).data)


class VerifyTokenView(VerifyView):
    @extend_schema(responses=serializers.CertificatePublicSerializer, operation_id="verify_by_token", auth=[],
                   parameters=[OpenApiParameter("token", OpenApiTypes.STR, OpenApiParameter.PATH)])
    def get(self, request, token: str | None = None):
        return super().get(request, token=token)


class TokenView(APIView):
    """Exchange a username and password (and, for a role that needs one, a code of the second factor) for a new
    named API token (``Authorization: Token …``), shown once. Failures count towards the sign-in lockout."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    def get_authenticate_header(self, request):
        # Wrong credentials answer 401 (with the scheme to use), not 400 or 403.
        return 'Token realm="api"'

    @extend_schema(request=serializers.TokenObtainSerializer, responses=serializers.TokenCreatedSerializer,
                   operation_id="auth_token_create", auth=[])
    def post(self, request):
        given = serializers.TokenObtainSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        # The Django request, so that django-axes counts the failure and answers a lockout.
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            raise AuthenticationFailed(_("Unable to log in with provided credentials."))
        if signin.second_factor_required(user):
            if not data.get("otp"):
                raise drf_serializers.ValidationError(
                    {"otp": [_("Your role needs a second factor: send the code of your authenticator as “otp”.")]})
            if signin.otp_verify(user=user, code=data["otp"]) is None:
                raise AuthenticationFailed(_("The code is not right, or was already used."))
        token, key = signin.token_create(user=user, name=data.get("name") or "API", days=data.get("days"))
        return Response(serializers.TokenCreatedSerializer({"token": key, "api_token": token}).data)


class ApiTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                      viewsets.GenericViewSet):
    """The caller's own API tokens (never the token itself: its first characters). ``DELETE`` revokes one;
    another's answers 404."""

    serializer_class = serializers.ApiTokenSerializer
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drawing the schema: no caller
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=self.request.user).order_by("-created_at", "-id")

    def perform_destroy(self, instance):
        signin.token_revoke(actor=self.request.user, token=instance)

    @extend_schema(request=None, responses={204: None}, operation_id="auth_tokens_revoke_all")
    @action(detail=False, methods=["post"], url_path="revoke-all")
    def revoke_all(self, request):
        """Revoke every token of the caller (the one making this call too)."""
        signin.tokens_revoke_all(request.user, reason="revoked by its owner")
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@permission_classes([AllowAny])
@throttle_classes([])
def not_found(request, *args, **kwargs):
    """Any other path under /api/v1/ answers a JSON 404."""
    raise NotFound()


class SchemaView(SpectacularAPIView):
    """The schema, in English for every caller (see the module's docstring)."""

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        with translation.override("en"):
            response = super().get(request, *args, **kwargs)
            response.data = _evaluated(response.data)
        response["Content-Language"] = "en"
        return response


def _evaluated(value):
    """Lazy translations made text now (in the language active now), through dicts and lists."""
    if isinstance(value, dict):
        return {_evaluated(k): _evaluated(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_evaluated(v) for v in value]
    if isinstance(value, Promise):
        return str(value)
    return value
