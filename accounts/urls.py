"""Django's own auth views: /accounts/login/, /accounts/logout/, password change and reset."""

from django.urls import include, path

urlpatterns = [path("", include("django.contrib.auth.urls"))]
