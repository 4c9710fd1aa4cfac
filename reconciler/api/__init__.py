"""The production ModelArts client: httpx, AK/SK or token auth, retries and adaptive pacing."""

from reconciler.api.client import ModelArtsClient, build_http_client
from reconciler.api.failures import ApiError, HttpError, NotFoundError, TransportError
from reconciler.api.retry import RetryPolicy

__all__ = [
    "ApiError",
    "HttpError",
    "ModelArtsClient",
    "NotFoundError",
    "RetryPolicy",
    "TransportError",
    "build_http_client",
]
