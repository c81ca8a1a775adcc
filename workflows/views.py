from django.views.generic import TemplateView

from certification.selectors import workplaces_for


class HomeView(TemplateView):
    template_name = "home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["workplaces"] = workplaces_for(self.request.user)
        return context
