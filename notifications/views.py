"""The notifications page: the list, mark read, and the email switch."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from notifications import selectors, services


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.notifications_of(request.user), 25).get_page(request.GET.get("page"))
    preference = selectors.email_preference_of(request.user)
    return render(request, "notifications/notification_list.html", {"page": page, "preference": preference})


@login_required
@require_POST
def notification_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Marks it read and follows its link (the button is the way into the results)."""
    notification = services.notification_mark_read(user=request.user, notification_id=notification_id)
    link = notification.link
    if request.POST.get("open") and url_has_allowed_host_and_scheme(link, allowed_hosts={request.get_host()}):
        return redirect(link)
    return redirect("notifications:list")


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    services.notifications_mark_all_read(user=request.user)
    return redirect("notifications:list")


@login_required
@require_POST
def email_preference(request: HttpRequest) -> HttpResponse:
    wanted = request.POST.get("email_when_batch_done") == "on"
    services.email_preference_set(user=request.user, email_when_batch_done=wanted)
    messages.success(request, "Emails about finished uploads are " + ("on." if wanted else "off."))
    return redirect("notifications:list")
