from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import DetailView, ListView, TemplateView

from certification.selectors import (
    action_label,
    case_get_for_user_or_404,
    case_next_step,
    case_timeline,
    cases_for_user,
    workplaces_for,
)


class HomeView(TemplateView):
    template_name = "home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["workplaces"] = workplaces_for(self.request.user)
        return context


class CaseListView(LoginRequiredMixin, ListView):
    """The cases the signed-in user may see."""

    template_name = "workflows/case_list.html"
    context_object_name = "cases"
    paginate_by = 50

    def get_queryset(self):
        return cases_for_user(self.request.user).select_related("institution", "grade", "bureau").order_by(
            "-declared_at")


class CaseDetailView(LoginRequiredMixin, DetailView):
    """One case: where it stands, what is expected of whom and by when, and its whole timeline.
    Another user's case answers 404, as a missing one does."""

    template_name = "workflows/case_detail.html"
    context_object_name = "case"

    def get_object(self, queryset=None):
        return case_get_for_user_or_404(self.request.user, self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["next_step"] = case_next_step(self.object)
        context["timeline"] = [(entry, action_label(entry.action)) for entry in case_timeline(self.object)]
        return context
