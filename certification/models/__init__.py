from .audit import AuditEntry, AuditHead, AuditLogIsAppendOnly
from .base import DomainModel, HardDeleteRefused
from .cases import (
    Case,
    CasePrerequisite,
    CaseReport,
    LateInclusion,
    LateInclusionRequest,
    Outcome,
    Precheck,
    Stage,
)
from .certificates import Certificate, CertificateSerial, RegisterBatch
from .documents import (
    DocumentKind,
    IssueBatch,
    IssueBatchItem,
    IssuedDocument,
    LetterSerial,
    SummarySubmission,
)
from .experts import ConflictDeclaration, Expert, ExpertEmployment
from .filings import Filing
from .notices import Notice, Objection, ObjectionVerification
from .organisations import (
    Bureau,
    BureauMembership,
    Institution,
    InstitutionMembership,
    Region,
    SafetyIncident,
)
from .oversight import (
    BureauConclusion,
    Finding,
    Sampling,
    Selection,
    SpotCheckItem,
    SpotCheckRound,
    Suspension,
    Violation,
)
from .panels import Panel, PanelMember
from .reviews import ItemAssignment, OnsiteStep, Review
from .schemes import Grade, RubricCategory, RubricItem, RubricSubCriterion, Scheme, SchemeVersion
from .security import ApiToken, PasswordHistory
from .sheets import ScoreLine, ScoreSheet, SheetKind
from .signing import SigningKey
from .users import User

__all__ = [
    "ApiToken",
    "PasswordHistory",
    "AuditEntry",
    "AuditHead",
    "AuditLogIsAppendOnly",
    "Bureau",
    "BureauConclusion",
    "Finding",
    "Sampling",
    "Selection",
    "SpotCheckItem",
    "SpotCheckRound",
    "Suspension",
    "Violation",
    "BureauMembership",
    "Case",
    "CasePrerequisite",
    "CaseReport",
    "Certificate",
    "CertificateSerial",
    "ConflictDeclaration",
    "DocumentKind",
    "DomainModel",
    "Expert",
    "ExpertEmployment",
    "Filing",
    "Grade",
    "HardDeleteRefused",
    "Institution",
    "IssueBatch",
    "ItemAssignment",
    "IssueBatchItem",
    "IssuedDocument",
    "LateInclusion",
    "LateInclusionRequest",
    "LetterSerial",
    "OnsiteStep",
    "Outcome",
    "Panel",
    "PanelMember",
    "Precheck",
    "InstitutionMembership",
    "Notice",
    "Objection",
    "ObjectionVerification",
    "Region",
    "RegisterBatch",
    "Review",
    "RubricCategory",
    "RubricItem",
    "RubricSubCriterion",
    "Scheme",
    "SchemeVersion",
    "SafetyIncident",
    "ScoreLine",
    "ScoreSheet",
    "SheetKind",
    "SummarySubmission",
    "SigningKey",
    "Stage",
    "User",
]
