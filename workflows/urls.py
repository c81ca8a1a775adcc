"""The process's pages: the task inbox, the declaration, each task, the bureau's notice page, the chart."""

from django.contrib.auth.decorators import login_required
from django.urls import path

from . import task_views, views

urlpatterns = [
    path("tasks/", views.InboxView.as_view(), name="inbox"),
    path("cases/declare/", views.DeclareView.as_view(), name="declare"),
    path("cases/<int:pk>/tasks/<int:task_pk>/", views.task, name="case_task"),
    path("cases/<int:pk>/my-sheet/", login_required(task_views.ReopenedSheetView.as_view()), name="case_my_sheet"),
    path("cases/<int:pk>/withdraw/", views.case_end, {"how": "withdraw"}, name="case_withdraw"),
    path("cases/<int:pk>/cancel/", views.case_end, {"how": "cancel"}, name="case_cancel"),
    path("cases/<int:pk>/chair/", views.change_chair, name="case_change_chair"),
    path("cases/<int:pk>/recusal/", views.recusal, name="case_recusal"),
    path("cases/<int:pk>/replace-member/", views.replace_member, name="case_replace_member"),
    path("cases/<int:pk>/reassign-member/", views.reassign_member, name="case_reassign_member"),
    path("cases/<int:pk>/prechecker/", views.designate_prechecker, name="case_designate_prechecker"),
    path("cases/<int:pk>/chart/", views.flow_chart, name="case_chart"),  # the SVG
    path("cases/<int:pk>/process/", views.chart_page, name="case_process"),  # the page that shows it
    path("process/chart/", views.flow_chart, name="flow_chart"),
    path("process/", views.chart_page, name="process_chart"),
    path("bureau/notices/publish/", views.notice_publish, name="notice_publish"),
    path("bureau/notices/<int:pk>/extend/", views.notice_extend, name="notice_extend"),
    path("bureau/late-declarations/", views.late_inclusions, name="late_inclusions"),
]
