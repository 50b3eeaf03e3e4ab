"""API tokens: obtained with a username and password, expiring, revocable, stored only as a hash
(django-rest-knox). A token dies when it expires, when its owner revokes it, and when the
owner's password changes or the account is deactivated (accounts.models.User.save)."""

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import api_tokens_revoke

TokenOutput = inline_serializer(
    name="TokenOutput",
    fields={"token": serializers.CharField(), "expiry": serializers.DateTimeField(allow_null=True)},
)


def _locked_out(request: Request) -> Response:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return Response(
        {"detail": f"Too many failed logins: this account is locked for {minutes} minutes from this address."},
        status=status.HTTP_429_TOO_MANY_REQUESTS,
    )


class TokenObtainView(APIView):
    """POST username and password → 200 {"token", "expiry"}; 400 for wrong credentials, 429
    while the username and address are locked out by repeated failures."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=AuthTokenSerializer, responses={200: TokenOutput})
    def post(self, request: Request) -> Response:
        given = AuthTokenSerializer(data=request.data, context={"request": request})
        if not given.is_valid():
            # django-axes marks the request it was handed (DRF's Request) when it refused a
            # locked-out login; Django's authenticate() reports that as wrong credentials.
            if getattr(request, "axes_locked_out", False):
                return _locked_out(request)
            return Response(given.errors, status=status.HTTP_400_BAD_REQUEST)
        token_row, token = AuthToken.objects.create(user=given.validated_data["user"])
        return Response({"token": token, "expiry": token_row.expiry})


class TokenRevokeView(APIView):
    """POST with a token → 204; that token no longer works. With ?all=1 every token of the
    user is revoked (a lost laptop)."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        if request.query_params.get("all") in ("1", "true", "yes"):
            api_tokens_revoke(user=request.user)
        elif isinstance(request.auth, AuthToken):
            request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
