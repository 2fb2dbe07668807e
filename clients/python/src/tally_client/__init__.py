"""Calling Tally from Python with the generated billing.v1 stubs.

channel() opens a channel with gRPC's own retry policy (the service config
shipped beside this file, clients/service-config.json in the repository): it
resends the same message, so the same request_id, on UNAVAILABLE,
RESOURCE_EXHAUSTED and ABORTED, within the call's deadline. call() gives a
request its request_id once and, when a whole call still fails in a way a
retry may fix, calls again with that very message. Tally keeps one record per
request_id, so neither layer can record an event twice.
"""

import random
import time
import uuid
from importlib import resources
from typing import Any, Callable, Iterable, Optional, Sequence, Tuple, TypeVar

import grpc

__all__ = ["SERVICE_CONFIG", "RETRYABLE", "channel", "call", "with_request_id", "new_request_id"]

#: The gRPC service config (gRFC A6 retry policy and retry throttling) as JSON.
SERVICE_CONFIG: str = resources.files(__name__).joinpath("service-config.json").read_text(encoding="utf-8")

#: Status codes after which call() sends the same message again. Every Tally
#: call is read-only or carries a request_id, so a retry cannot double-charge.
RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    }
)

Request = TypeVar("Request")


def new_request_id() -> str:
    """A new request_id: a UUIDv7 where Python has it (3.14), else a UUIDv4."""
    return str(getattr(uuid, "uuid7", uuid.uuid4)())


def with_request_id(request: Request) -> Request:
    """Gives `request` (and each item of a batch's `requests`) a request_id if it has none; returns it."""
    descriptor = request.DESCRIPTOR  # type: ignore[attr-defined]
    if "request_id" in descriptor.fields_by_name and not request.request_id:  # type: ignore[attr-defined]
        request.request_id = new_request_id()  # type: ignore[attr-defined]
    if "requests" in descriptor.fields_by_name:
        for item in request.requests:  # type: ignore[attr-defined]
            with_request_id(item)
    return request


class _BearerKey(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor, grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds `authorization: Bearer <key>` to every call (call credentials need TLS; this works on plaintext too)."""

    def __init__(self, api_key: str) -> None:
        self._header = ("authorization", f"Bearer {api_key}")

    def _with_key(self, details: Any) -> Any:
        return details._replace(metadata=[*(details.metadata or ()), self._header])

    def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return continuation(self._with_key(details), request)

    def intercept_unary_stream(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return continuation(self._with_key(details), request)

    def intercept_stream_unary(self, continuation, details, requests):  # type: ignore[no-untyped-def]
        return continuation(self._with_key(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):  # type: ignore[no-untyped-def]
        return continuation(self._with_key(details), requests)


def channel(
    target: str,
    *,
    api_key: Optional[str] = None,
    credentials: Optional[grpc.ChannelCredentials] = None,
    options: Sequence[Tuple[str, Any]] = (),
) -> grpc.Channel:
    """A channel to Tally at `target` ("host:port") with gRPC's retry policy on.

    Plaintext unless `credentials` (e.g. grpc.ssl_channel_credentials()) are
    given. `api_key` is sent as `authorization: Bearer <key>` on every call.
    `options` are added after the service config and may override it.
    """
    channel_options = [("grpc.service_config", SERVICE_CONFIG), ("grpc.enable_retries", 1), *options]
    if credentials is None:
        opened = grpc.insecure_channel(target, options=channel_options)
    else:
        opened = grpc.secure_channel(target, credentials, options=channel_options)
    return grpc.intercept_channel(opened, _BearerKey(api_key)) if api_key else opened


def call(
    method: Callable[..., Any],
    request: Any,
    *,
    attempts: int = 3,
    timeout: float = 10.0,
    backoff: float = 0.2,
    metadata: Iterable[Tuple[str, str]] = (),
) -> Any:
    """Calls a stub's unary `method` with `request`, and again with the same message while it may help.

    The request gets a request_id first (with_request_id) unless it has one,
    so every attempt carries the same id: Tally records it once and answers
    a repeat with the original record and `replayed=True`. Each attempt has
    its own deadline (`timeout` seconds); between attempts it waits a random
    time up to `backoff` × 2^attempt seconds. A failure outside RETRYABLE, or
    the last attempt's, is raised as the grpc.RpcError it is.
    """
    with_request_id(request)
    for attempt in range(1, attempts + 1):
        try:
            return method(request, timeout=timeout, metadata=tuple(metadata))
        except grpc.RpcError as error:
            if attempt == attempts or error.code() not in RETRYABLE:  # type: ignore[attr-defined]
                raise
            time.sleep(random.uniform(0, backoff * 2 ** (attempt - 1)))
    raise AssertionError("unreachable")
