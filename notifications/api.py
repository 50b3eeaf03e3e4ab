"""The upload page's "every file of this batch is sent" (its files go to the API one by one)."""

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.batches import batch_close_by_key


class UploadBatchCloseView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, key: uuid.UUID) -> Response:
        if not batch_close_by_key(uploaded_by=request.user, key=key):
            raise NotFound("No upload batch of yours has that key.")
        return Response(status=status.HTTP_204_NO_CONTENT)
