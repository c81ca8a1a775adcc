"""The navigation of the base layout: the links of the pages each of the user's roles works on.

Read from the user's grants (one query per request, shared with every check of the page); no rule lives
here: each page still checks its own permission, and a link only saves the user from typing an address."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from certification.permissions import (
    ACT_FOR_INSTITUTION,
    APPROVE_FOR_BUREAU,
    AUDIT_BUREAU,
    ISSUE_FOR_BUREAU,
    WORK_IN_BUREAU,
    grants,
)


@dataclass(frozen=True)
class Link:
    label: str
    url: str
    name: str  # the URL's name, for the current page's mark


def _link(label, name: str) -> Link:
    return Link(label=str(label), url=reverse(name), name=name)


def public_links() -> list[Link]:
    """What anyone may open without signing in."""
    return [_link(_("Public notices"), "notice_list"), _link(_("Closed notices"), "notice_archive"),
            _link(_("Verify a certificate"), "verify")]


def links_for(user) -> list[Link]:
    """The signed-in user's links: the inbox and the cases for everyone, then each role's own pages."""
    if not (user and user.is_authenticated):
        return public_links()
    held = grants(user)
    links = [_link(_("My tasks"), "inbox"), _link(_("Cases"), "case_list")]
    if ACT_FOR_INSTITUTION in held:
        links.append(_link(_("Declare for a grade"), "declare"))
    if WORK_IN_BUREAU in held:
        links += [_link(_("Publish a public notice"), "notice_publish"), _link(_("Late declarations"), "late_inclusions"),
                  _link(_("Spreadsheets"), "spreadsheets")]
    if ISSUE_FOR_BUREAU in held:
        links.append(_link(_("Certificates to issue"), "certificates:queue"))
    if held.keys() & {WORK_IN_BUREAU, APPROVE_FOR_BUREAU, ISSUE_FOR_BUREAU, AUDIT_BUREAU}:
        links += [_link(_("Annual approvals summary"), "documents:summaries"), _link(_("Filings"), "filing_list")]
    if held.keys() & {WORK_IN_BUREAU, APPROVE_FOR_BUREAU, AUDIT_BUREAU}:  # those who read their region (第九条)
        links += [_link(_("Dashboard"), "oversight:dashboard"), _link(_("Spot checks"), "oversight:index")]
    if user.is_staff:
        links.append(_link(_("Administration"), "admin:index"))
    return links
