"""The life of a certificate as a state machine (viewflow.fsm), beside the case's process.

in force ──recheck declared──▶ recheck in progress ──recheck passed──▶ superseded (by the recheck certificate)
    │                                   └──recheck failed──▶ lapsed
    ├──expired without a recheck──▶ lapsed
    ├──promoted──▶ superseded (by the higher grade's certificate)
    ├──suspended──▶ suspended ──reinstated──▶ in force
    └──revoked (also from recheck in progress or suspended)──▶ revoked

The services in ``services/certificates.py`` drive it; the daily lapse sweep updates rows in bulk with the
same source state as :meth:`CertificateLifecycle.lapse`.
"""

from viewflow import fsm

from .enums import CertificateStatus as S


class CertificateLifecycle:
    status = fsm.State(S, default=S.IN_FORCE)

    def __init__(self, certificate):
        self.certificate = certificate

    @status.getter()
    def _get_status(self):
        return self.certificate.status

    @status.setter()
    def _set_status(self, value):
        self.certificate.status = value

    @status.transition(source=S.IN_FORCE, target=S.RECHECK_IN_PROGRESS)
    def declare_recheck(self):
        """The holder declared a recheck in time: the grade stays in force until it is decided."""

    @status.transition(source=S.RECHECK_IN_PROGRESS, target=S.LAPSED)
    def fail_recheck(self):
        """The recheck failed: the grade lapses."""

    @status.transition(source=S.IN_FORCE, target=S.LAPSED)
    def lapse(self):
        """Expired without a recheck declaration (等级资格自动失效)."""

    @status.transition(source=[S.IN_FORCE, S.RECHECK_IN_PROGRESS], target=S.SUPERSEDED)
    def supersede(self):
        """A promotion or a passed recheck issued the certificate that replaces this one."""

    @status.transition(source=[S.IN_FORCE, S.RECHECK_IN_PROGRESS], target=S.SUSPENDED)
    def suspend(self):
        """The issuing bureau suspends the certificate, with a reason."""

    @status.transition(source=S.SUSPENDED, target=S.IN_FORCE)
    def reinstate(self):
        """The issuing bureau reinstates a suspended certificate, with a reason."""

    @status.transition(source=[S.IN_FORCE, S.RECHECK_IN_PROGRESS, S.SUSPENDED], target=S.REVOKED)
    def revoke(self):
        """The issuing bureau revokes the certificate, with a reason."""


def lapse_sources() -> list[str]:
    """The states the lapse transition starts from (the daily sweep filters on exactly these)."""
    return [str(t.source) for t in CertificateLifecycle.lapse.get_transitions()]
