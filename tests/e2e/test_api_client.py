"""The production client against httpx.MockTransport: wire format, retries, errors, logging."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
import pytest

from reconciler.api import (
    ApiError,
    HttpError,
    ModelArtsClient,
    NotFoundError,
    RetryPolicy,
    TransportError,
    build_http_client,
)
from reconciler.api.auth import AkSkAuth, TokenAuth
from reconciler.api.credentials import auth_from_env
from reconciler.errors import NpError
from reconciler.signer import verify

Handler = Callable[[httpx.Request], httpx.Response]
BASE = "/v2/proj/pools"
NODEPOOL = {
    "apiVersion": "v2",
    "kind": "NodePool",
    "metadata": {"name": "train"},
    "spec": {"resources": {"flavor": "f", "count": 2, "maxCount": 2}},
    "status": {"resources": {"creating": [{"flavor": "f", "count": 1}], "available": {"count": 1}}},
}


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Recorder:
    """A MockTransport handler that answers from a script and records every request."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer

    @property
    def calls(self) -> list[str]:
        return [f"{r.method} {r.url.raw_path.decode()}" for r in self.requests]


def respond(
    status: int, body: Any = None, *, request_id: str | None = None, **headers: str
) -> httpx.Response:
    extra = {k.replace("_", "-"): v for k, v in headers.items()}
    if request_id:
        extra["X-Request-Id"] = request_id
    return httpx.Response(status, json=body if body is not None else {}, headers=extra)


def error(
    status: int, code: str, msg: str, request_id: str = "rid-1", **headers: str
) -> httpx.Response:
    return respond(status, {"error_code": code, "error_msg": msg}, request_id=request_id, **headers)


def make_client(
    recorder: Recorder,
    time: FakeTime | None = None,
    *,
    auth: httpx.Auth | None = None,
    **policy: Any,
) -> ModelArtsClient:
    time = time or FakeTime()
    http = build_http_client(
        "http://sim",
        transport=httpx.MockTransport(recorder),
        auth=auth,
        max_connections=4,
        timeout=5.0,
        verbose_log=None,
    )
    retry = RetryPolicy(sleep=time.sleep, clock=time.clock, random=lambda: 1.0, **policy)
    return ModelArtsClient(http, "proj", retry=retry)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


THROTTLED = error(429, "APIGW.0308", "The throttling threshold has been reached")
INTERNAL = error(500, "ModelArts.50005000", "internal error")


# --- wire format --------------------------------------------------------------------------------


def test_lists_return_raw_items_with_status_buckets_untouched() -> None:
    recorder = Recorder(respond(200, {"kind": "NodePoolList", "items": [NODEPOOL]}))
    items = run(make_client(recorder).list_nodepools("pool-a"))
    assert items == [NODEPOOL]
    assert recorder.calls == [f"GET {BASE}/pool-a/nodepools"]


def test_list_pools_and_get_nodepool_paths_are_one_segment_each() -> None:
    recorder = Recorder(
        respond(200, {"items": [{"metadata": {"name": "p"}}]}), respond(200, NODEPOOL)
    )
    client = make_client(recorder)
    assert run(client.list_pools()) == [{"metadata": {"name": "p"}}]
    assert run(client.get_nodepool("Pool_a.1", "pool-dev-default")) == NODEPOOL
    assert recorder.calls == [f"GET {BASE}", f"GET {BASE}/Pool_a.1/nodepools/pool-dev-default"]


@pytest.mark.parametrize("name", [".", "..", "x/y", "x?y", "pool a", "", "a%2e"])
def test_a_name_that_would_change_the_path_is_never_sent(name: str) -> None:
    """``..`` would make GET …/nodepools/.. a read of the pool itself (httpx collapses it);
    a name reaching the client has been checked already, and this is the last line."""
    recorder = Recorder(respond(200, NODEPOOL))
    with pytest.raises(NpError, match="refusing to send a request for the name"):
        run(make_client(recorder).delete_nodepool("pool-a", name))
    with pytest.raises(NpError, match="refusing to send a request for the name"):
        run(make_client(recorder).get_nodepool(name, "train"))
    assert recorder.calls == []


def test_patch_sends_the_body_as_given_as_a_merge_patch() -> None:
    body = b'{"spec":{"resources":{"flavor":"f","count":3,"maxCount":3,"labels":{"a":null}}}}'
    recorder = Recorder(respond(200, NODEPOOL))
    assert run(make_client(recorder).patch_nodepool("pool-a", "train", body)) == NODEPOOL
    (request,) = recorder.requests
    assert (request.method, request.url.path) == ("PATCH", f"{BASE}/pool-a/nodepools/train")
    assert request.headers["Content-Type"] == "application/merge-patch+json"
    assert request.content == body


def test_create_posts_json_and_delete_returns_the_node_pool() -> None:
    body = json.dumps(
        {"apiVersion": "v2", "kind": "NodePool", "metadata": {"name": "new"}}
    ).encode()
    recorder = Recorder(respond(201, NODEPOOL), respond(200, NODEPOOL))
    client = make_client(recorder)
    assert run(client.create_nodepool("pool-a", body)) == NODEPOOL
    assert run(client.delete_nodepool("pool-a", "new")) == NODEPOOL
    assert recorder.calls == [
        f"POST {BASE}/pool-a/nodepools",
        f"DELETE {BASE}/pool-a/nodepools/new",
    ]
    assert recorder.requests[0].headers["Content-Type"] == "application/json;charset=utf-8"
    assert recorder.requests[0].content == body


def test_list_pools_asks_for_one_workspace_only_when_given() -> None:
    recorder = Recorder(respond(200, {"items": []}))
    client = make_client(recorder)
    run(client.list_pools())
    run(client.list_pools(workspace_id="ws-1"))
    run(client.list_pools(workspace_id="0"))
    assert [list(r.url.params.multi_items()) for r in recorder.requests] == [
        [],
        [("workspaceId", "ws-1")],
        [("workspaceId", "0")],
    ]


def test_list_nodes_follows_continue_tokens() -> None:
    pages = {
        "": {"metadata": {"continue": "t1"}, "items": [{"metadata": {"name": "n1"}}]},
        "t1": {"metadata": {"continue": "t 2"}, "items": [{"metadata": {"name": "n2"}}]},
        "t 2": {
            "metadata": {"continue": "", "remainingItemCount": 0},
            "items": [{"metadata": {"name": "n3"}}],
        },
    }
    recorder = Recorder(lambda r: respond(200, pages[r.url.params.get("continue", "")]))
    nodes = run(make_client(recorder).list_nodes("pool-a", "train"))
    assert [n["metadata"]["name"] for n in nodes] == ["n1", "n2", "n3"]
    assert [list(r.url.params.multi_items()) for r in recorder.requests] == [
        [("limit", "500")],
        [("limit", "500"), ("continue", "t1")],
        [("limit", "500"), ("continue", "t 2")],
    ]


def test_list_nodes_stops_on_a_repeating_token() -> None:
    recorder = Recorder(respond(200, {"metadata": {"continue": "same"}, "items": []}))
    with pytest.raises(ApiError) as caught:
        run(make_client(recorder).list_nodes("p", "n"))
    assert (
        str(caught.value) == f"GET {BASE}/p/nodepools/n/nodes: HTTP 200: pagination token repeats"
    )
    assert len(recorder.requests) == 2


def test_a_success_that_is_not_a_json_object_is_an_error() -> None:
    recorder = Recorder(
        httpx.Response(200, text="<html>oops</html>", headers={"X-Request-Id": "r9"})
    )
    with pytest.raises(ApiError) as caught:
        run(make_client(recorder).list_pools())
    assert (
        str(caught.value)
        == f"GET {BASE}: HTTP 200: the response is not a JSON object (request id r9)"
    )


# --- errors -------------------------------------------------------------------------------------


def test_a_client_error_is_one_line_with_code_and_request_id_and_not_retried() -> None:
    recorder = Recorder(error(400, "ModelArts.50004000", "maxCount must\nequal count", "abc"))
    with pytest.raises(ApiError) as caught:
        run(make_client(recorder).patch_nodepool("x", "y", b"{}"))
    err = caught.value
    assert str(err) == (
        f"PATCH {BASE}/x/nodepools/y: HTTP 400 ModelArts.50004000: maxCount must equal count "
        "(request id abc)"
    )
    assert (err.status, err.error_code, err.request_id, err.method, err.path) == (
        400,
        "ModelArts.50004000",
        "abc",
        "PATCH",
        f"{BASE}/x/nodepools/y",
    )
    assert len(recorder.requests) == 1


def test_404_is_not_found() -> None:
    recorder = Recorder(error(404, "ModelArts.50015001", "node pool not found", "r404"))
    with pytest.raises(NotFoundError) as caught:
        run(make_client(recorder).get_nodepool("x", "y"))
    assert str(caught.value) == (
        f"GET {BASE}/x/nodepools/y: HTTP 404 ModelArts.50015001: node pool not found "
        "(request id r404)"
    )


def test_gateway_errors_without_json_use_the_text_and_body_request_id_wins() -> None:
    recorder = Recorder(
        httpx.Response(
            403, text="<h1>Forbidden</h1>\n  by gateway", headers={"X-Request-Id": "h1"}
        ),
        respond(
            401,
            {
                "error_code": "APIGW.0301",
                "error_msg": "Incorrect IAM authentication information",
                "request_id": "b1",
            },
            request_id="h2",
        ),
    )
    client = make_client(recorder)
    with pytest.raises(ApiError) as first:
        run(client.list_pools())
    assert (
        str(first.value) == f"GET {BASE}: HTTP 403: <h1>Forbidden</h1> by gateway (request id h1)"
    )
    with pytest.raises(ApiError) as second:
        run(client.list_pools())
    assert str(second.value) == (
        f"GET {BASE}: HTTP 401 APIGW.0301: Incorrect IAM authentication information (request id b1)"
    )


# --- retries ------------------------------------------------------------------------------------


def test_429_is_retried_with_full_jitter_backoff() -> None:
    time = FakeTime()
    recorder = Recorder(THROTTLED, THROTTLED, respond(200, {"items": []}))
    assert run(make_client(recorder, time).list_pools()) == []
    assert len(recorder.requests) == 3
    # backoff 0.2 and 0.4 (random() = 1.0), each followed by the pacer's wait: the throttles
    # slowed it to 2 and then 1 req/s
    assert time.sleeps == pytest.approx([0.2, 0.3, 0.4, 0.6])


def test_retry_after_is_honoured_and_pauses_the_next_request() -> None:
    time = FakeTime()
    throttled = error(429, "APIGW.0308", "throttled", Retry_After="7")
    recorder = Recorder(throttled, respond(200, {"items": []}))
    assert run(make_client(recorder, time).list_pools()) == []
    assert time.sleeps == [7.0]


def test_5xx_is_retried_up_to_max_attempts_then_reports_the_last_error() -> None:
    time = FakeTime()
    recorder = Recorder(INTERNAL)
    with pytest.raises(ApiError) as caught:
        run(make_client(recorder, time).patch_nodepool("x", "y", b"{}"))
    assert len(recorder.requests) == 6
    assert time.sleeps == [0.2, 0.4, 0.8, 1.6, 3.2]
    assert str(caught.value) == (
        f"PATCH {BASE}/x/nodepools/y: HTTP 500 ModelArts.50005000: internal error "
        "(request id rid-1) after 6 attempts"
    )


def test_throttling_alone_is_retried_past_max_attempts_within_the_time_budget() -> None:
    """A 429 says "slower", not "failed": only other failures count towards max_attempts."""
    time = FakeTime()
    recorder = Recorder(*[THROTTLED] * 9, INTERNAL, respond(200, {"items": []}))
    assert run(make_client(recorder, time, max_attempts=2, cap=0.5).list_pools()) == []
    assert len(recorder.requests) == 11


def test_throttling_still_ends_at_the_time_budget() -> None:
    time = FakeTime()
    recorder = Recorder(THROTTLED)
    with pytest.raises(ApiError) as caught:
        run(make_client(recorder, time, cap=10.0).list_pools())
    assert "HTTP 429" in str(caught.value) and "120" in str(caught.value)
    assert len(recorder.requests) > 6  # more than max_attempts: throttling alone
    assert time.now <= 1000.0 + 120.0  # never slept past the budget


def test_backoff_is_capped() -> None:
    time = FakeTime()
    recorder = Recorder(INTERNAL)
    with pytest.raises(ApiError):
        run(make_client(recorder, time, max_attempts=8, cap=1.0).delete_nodepool("x", "y"))
    assert time.sleeps == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (
            httpx.ConnectError("connection refused"),
            "connection to sim failed (ConnectError: connection refused)",
        ),
        (
            httpx.ReadTimeout("read timed out"),
            "request to sim timed out (ReadTimeout: read timed out)",
        ),
        (
            httpx.RemoteProtocolError("peer closed"),
            "connection to sim failed (RemoteProtocolError: peer closed)",
        ),
        (ConnectionResetError(), "connection to sim failed (ConnectionResetError)"),
    ],
)
def test_network_failures_are_retried_then_a_transport_error_naming_the_host(
    exc: Exception, text: str
) -> None:
    recorder = Recorder(exc)
    with pytest.raises(TransportError) as caught:
        run(make_client(recorder).get_nodepool("x", "y"))
    assert len(recorder.requests) == 6
    assert caught.value.host == "sim"
    assert str(caught.value) == f"GET {BASE}/x/nodepools/y: {text} after 6 attempts"


def test_a_transport_error_names_host_and_port_never_credentials() -> None:
    http = build_http_client(
        "http://127.0.0.1:8787",
        transport=httpx.MockTransport(Recorder(httpx.ConnectError("refused"))),
        auth=TokenAuth(TOKEN),
        max_connections=1,
        timeout=1.0,
        verbose_log=None,
    )
    time = FakeTime()
    retry = RetryPolicy(sleep=time.sleep, clock=time.clock, max_attempts=1)
    with pytest.raises(TransportError) as caught:
        run(ModelArtsClient(http, "proj", retry=retry).list_pools())
    assert str(caught.value) == (
        f"GET {BASE}: connection to 127.0.0.1:8787 failed (ConnectError: refused)"
    )
    assert TOKEN not in str(caught.value)


def test_a_network_failure_then_success_recovers() -> None:
    recorder = Recorder(httpx.ConnectError("refused"), respond(200, NODEPOOL))
    assert run(make_client(recorder).get_nodepool("x", "y")) == NODEPOOL
    assert len(recorder.requests) == 2


def test_exhausted_time_budget_reports_the_last_error_as_it_was() -> None:
    time = FakeTime()
    recorder = Recorder(
        INTERNAL, error(429, "APIGW.0308", "throttled", "r2", Retry_After="30"), respond(200, {})
    )
    with pytest.raises(ApiError) as caught:
        run(make_client(recorder, time, budget_seconds=10).list_pools())
    assert isinstance(caught.value, HttpError)
    assert (caught.value.status, caught.value.error_code) == (429, "APIGW.0308")
    assert str(caught.value) == (
        f"GET {BASE}: retry budget of 10s exhausted; last error: HTTP 429 APIGW.0308: throttled "
        "(request id r2) after 2 attempts"
    )
    assert len(recorder.requests) == 2
    assert time.sleeps == [0.2]


# --- POST is never retried blindly --------------------------------------------------------------

CREATE = json.dumps({"metadata": {"name": "new"}, "spec": {"resources": {}}}).encode()


def test_post_is_retried_only_after_a_get_proves_it_was_not_created() -> None:
    not_found = error(404, "ModelArts.50015001", "not found")
    recorder = Recorder(
        INTERNAL, not_found, httpx.ConnectError("reset"), not_found, respond(201, NODEPOOL)
    )
    assert run(make_client(recorder).create_nodepool("pool-a", CREATE)) == NODEPOOL
    post, get = f"POST {BASE}/pool-a/nodepools", f"GET {BASE}/pool-a/nodepools/new"
    assert recorder.calls == [post, get, post, get, post]


def test_post_that_landed_returns_the_existing_node_pool_without_resending() -> None:
    recorder = Recorder(httpx.ReadTimeout("timed out"), respond(200, NODEPOOL))
    assert run(make_client(recorder).create_nodepool("pool-a", CREATE)) == NODEPOOL
    assert recorder.calls == [f"POST {BASE}/pool-a/nodepools", f"GET {BASE}/pool-a/nodepools/new"]


def test_post_without_a_name_to_check_is_not_retried() -> None:
    recorder = Recorder(INTERNAL)
    with pytest.raises(ApiError) as caught:
        run(make_client(recorder).create_nodepool("pool-a", b'{"spec": {}}'))
    assert recorder.calls == [f"POST {BASE}/pool-a/nodepools"]
    assert caught.value.status == 500


def test_post_conflict_is_not_retried() -> None:
    recorder = Recorder(error(409, "ModelArts.50015000", "already exists"))
    with pytest.raises(ApiError) as caught:
        run(make_client(recorder).create_nodepool("pool-a", CREATE))
    assert len(recorder.requests) == 1
    assert caught.value.error_code == "ModelArts.50015000"


# --- auth ---------------------------------------------------------------------------------------

AK, SK, TOKEN = "AK123", "SK-secret-value", "security-token-value"


def sdk_check(request: httpx.Request, now: datetime) -> str | None:
    query = request.url.raw_path.decode().partition("?")[2]
    return verify(
        request.method,
        request.url.raw_path.decode().partition("?")[0],
        parse_qsl(query, keep_blank_values=True),
        request.headers,
        request.content,
        {AK: SK}.get,
        now,
    )


def test_aksk_requests_verify_and_each_retry_is_signed_afresh() -> None:
    moments = iter(
        datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=s) for s in range(9)
    )
    auth = AkSkAuth(AK, SK, "proj", TOKEN, now=lambda: next(moments))
    recorder = Recorder(INTERNAL, respond(200, NODEPOOL))
    body = b'{"spec":{"resources":{"count":1}}}'
    run(make_client(recorder, auth=auth).patch_nodepool("pool_a", "n", body))
    first, second = recorder.requests
    assert first.headers["X-Sdk-Date"] == "20240101T000000Z"
    assert second.headers["X-Sdk-Date"] == "20240101T000001Z"
    assert first.headers["Authorization"] != second.headers["Authorization"]
    for request in (first, second):
        assert request.headers["X-Project-Id"] == "proj"
        assert request.headers["X-Security-Token"] == TOKEN
        assert request.headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
        assert sdk_check(request, datetime(2024, 1, 1, 0, 5, tzinfo=timezone.utc)) is None


def test_aksk_signs_queries_and_json_bodies() -> None:
    auth = AkSkAuth(AK, SK, None)
    now = datetime.now(timezone.utc)
    recorder = Recorder(respond(200, {"items": []}), respond(201, NODEPOOL))
    client = make_client(recorder, auth=auth)
    run(client.list_nodes("p", "n"))
    run(client.create_nodepool("p", CREATE))
    for request in recorder.requests:
        assert "X-Project-Id" not in request.headers
        assert sdk_check(request, now) is None
    tampered = recorder.requests[1]
    tampered._content = CREATE.replace(b"new", b"old")
    assert sdk_check(tampered, now) == "signature does not match"


def test_token_auth_sets_x_auth_token() -> None:
    recorder = Recorder(respond(200, {"items": []}))
    run(make_client(recorder, auth=TokenAuth("iam-token")).list_pools())
    assert recorder.requests[0].headers["X-Auth-Token"] == "iam-token"
    assert "Authorization" not in recorder.requests[0].headers


def test_auth_reprs_hide_secrets() -> None:
    assert SK not in repr(AkSkAuth(AK, SK, "p", TOKEN))
    assert TOKEN not in repr(AkSkAuth(AK, SK, "p", TOKEN))
    assert "iam-token" not in repr(TokenAuth("iam-token"))


# --- verbose log and the HTTP client ------------------------------------------------------------


@pytest.mark.parametrize("auth", [AkSkAuth(AK, SK, "proj", TOKEN), TokenAuth(TOKEN)])
def test_verbose_log_has_one_line_each_way_and_redacts_secrets(auth: httpx.Auth) -> None:
    lines: list[str] = []
    http = build_http_client(
        "http://sim",
        transport=httpx.MockTransport(Recorder(respond(200, NODEPOOL, request_id="r1"))),
        auth=auth,
        max_connections=2,
        timeout=5.0,
        verbose_log=lines.append,
    )
    body = b'{"spec":{"resources":{"count":1}}}'
    run(ModelArtsClient(http, "proj").patch_nodepool("x", "y", body))
    request_line, response_line = lines
    assert request_line.startswith(f"-> PATCH http://sim{BASE}/x/nodepools/y {{")
    assert response_line.startswith("<- 200 ")
    assert f"ms PATCH {BASE}/x/nodepools/y {{" in response_line
    assert "X-Request-Id: r1" in response_line
    everything = "\n".join(lines)
    for secret in (SK, TOKEN):
        assert secret not in everything
    assert "Signature=" not in everything
    assert request_line.endswith(f" body: {body.decode()}")  # request bodies hold no secrets
    assert "count" not in response_line  # response bodies are not logged
    redacted = [
        h
        for h in ("Authorization", "X-Auth-Token", "X-Security-Token")
        if f"{h}: REDACTED" in request_line
    ]
    assert redacted == (
        ["Authorization", "X-Security-Token"] if isinstance(auth, AkSkAuth) else ["X-Auth-Token"]
    )


def test_network_transport_verifies_tls_and_limits_connections() -> None:
    http = build_http_client(
        "https://modelarts.example",
        transport=None,
        auth=None,
        max_connections=7,
        timeout=12.0,
        verbose_log=None,
    )
    transport = http._transport
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    pool = transport._pool
    assert pool._ssl_context is not None
    assert pool._max_connections == 7
    assert pool._ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert pool._ssl_context.check_hostname is True
    assert http.timeout == httpx.Timeout(12.0)
    assert http.follow_redirects is False


# --- redirects are failures ---------------------------------------------------------------------

LOCATION_SECRET = "LOCATIONSENTINEL-7f3a"


def calls(client: ModelArtsClient) -> dict[str, Callable[[], Any]]:
    return {
        "GET": lambda: client.get_nodepool("pool-a", "train"),
        "PATCH": lambda: client.patch_nodepool("pool-a", "train", b"{}"),
        "POST": lambda: client.create_nodepool("pool-a", CREATE),
        "DELETE": lambda: client.delete_nodepool("pool-a", "train"),
    }


@pytest.mark.parametrize("method", ["GET", "PATCH", "POST", "DELETE"])
@pytest.mark.parametrize("status", [300, 301, 302, 303, 304, 307, 308])
def test_a_redirect_is_a_failure_naming_only_the_host_and_is_never_followed(
    method: str, status: int
) -> None:
    """Counted as a success, a redirected PATCH made np record a change the server never
    made. It is one failure, not followed and not retried, that names the Location's host and
    nothing more of it (its path or query may carry a token)."""
    location = f"https://elsewhere.example:8443/steal?token={LOCATION_SECRET}"
    recorder = Recorder(
        httpx.Response(status, headers={"Location": location, "X-Request-Id": "r3"}, json={})
    )
    with pytest.raises(HttpError) as caught:
        run(calls(make_client(recorder))[method]())
    path = f"{BASE}/pool-a/nodepools" + ("" if method == "POST" else "/train")
    assert str(caught.value) == (
        f"{method} {path}: HTTP {status}: redirected to elsewhere.example:8443; np does not "
        "follow redirects (request id r3)"
    )
    assert not isinstance(caught.value, NotFoundError)
    assert len(recorder.requests) == 1
    assert LOCATION_SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("headers", "shown"),
    [
        ({"Location": f"/v2/other?token={LOCATION_SECRET}"}, "redirected to sim"),
        ({"Location": "//[::1]:9/x"}, "redirected to [::1]:9"),
        ({"Location": "https://xn--bcher-kva.example/"}, "redirected to xn--bcher-kva.example"),
        ({"Location": "https://bücher.example/".encode()}, "redirected to xn--bcher-kva.example"),
        ({"Location": "https://exa mple.example/"}, "redirected to an invalid address"),
        ({"Location": f"https://{LOCATION_SECRET}@:99999/"}, "redirected to an invalid address"),
        ({}, "redirected without a Location"),
    ],
)
def test_a_redirect_names_where_it_points_as_far_as_that_is_safe(
    headers: dict[str, str | bytes], shown: str
) -> None:
    recorder = Recorder(httpx.Response(307, headers=headers))
    with pytest.raises(HttpError) as caught:
        run(make_client(recorder).list_pools())
    assert str(caught.value) == f"GET {BASE}: HTTP 307: {shown}; np does not follow redirects"


# --- what a server echoes is redacted -----------------------------------------------------------

ECHO_AK, ECHO_SK = "AKSENTINEL0ECHO", "SKSENTINEL-echo/9x+Q="
ECHO_TOKEN, ECHO_UNUSED = "TOKSENTINEL-echo/4c+1e==", "UNUSEDSENTINEL-echo-77"
AKSK_ENV = {
    "HUAWEICLOUD_SDK_AK": ECHO_AK,
    "HUAWEICLOUD_SDK_SK": ECHO_SK,
    "HUAWEICLOUD_SDK_SECURITY_TOKEN": ECHO_TOKEN,
}


def echo_json(request: httpx.Request) -> httpx.Response:
    """A gateway that quotes the request's headers in its error message."""
    headers = json.dumps(dict(request.headers))
    return respond(400, {"error_code": "GW.400", "error_msg": f"bad request, headers: {headers}"})


def echo_text(request: httpx.Request) -> httpx.Response:
    """One that dumps the request as text: the token JSON-escaped (``\\/``) and percent-encoded,
    secrets a careless proxy might hold, then the token where the message is cut at 300
    characters, then every header."""
    token = request.headers.get("X-Auth-Token") or request.headers.get("X-Security-Token", "")
    escaped = json.dumps(token)[1:-1].replace("/", "\\/")
    secrets = f"sk={ECHO_SK} unused={ECHO_UNUSED}"
    head = f"bad request: {escaped} {quote(token, safe='')} {secrets} ".ljust(280, "x")
    lines = [f"{name}: {value}" for name, value in request.headers.items()]
    return httpx.Response(502, text=head + token + "\n" + "\n".join(lines))


@pytest.mark.parametrize(
    "environ",
    [AKSK_ENV, {"HW_AUTH_TOKEN": ECHO_TOKEN}, {**AKSK_ENV, "HW_AUTH_TOKEN": ECHO_UNUSED}],
    ids=["aksk", "token", "aksk-and-an-unused-token"],
)
@pytest.mark.parametrize("echo", [echo_json, echo_text])
def test_credentials_a_server_echoes_never_reach_the_error(
    environ: dict[str, str], echo: Handler
) -> None:
    """Neither the credentials sent (headers, signature) nor any in the environment."""
    recorder = Recorder(echo)
    with pytest.raises(HttpError) as caught:
        run(make_client(recorder, auth=auth_from_env(environ, "proj"), max_attempts=1).list_pools())
    message = str(caught.value)
    signature = recorder.requests[0].headers.get("Authorization", "").rpartition("Signature=")[2]
    leaks = [*environ.values(), *([signature] if signature else [])]
    assert [leak for leak in leaks if leak[:10] in message] == []  # not even before a cut
    assert "REDACTED" in message  # the echo was there, and redacted


def test_an_echoed_token_is_redacted_in_place() -> None:
    recorder = Recorder(echo_json)
    with pytest.raises(HttpError) as caught:
        run(make_client(recorder, auth=TokenAuth(ECHO_TOKEN)).list_pools())
    assert str(caught.value).startswith(
        f'GET {BASE}: HTTP 400 GW.400: bad request, headers: {{"host": "sim", '
    )
    assert '"x-auth-token": "REDACTED"' in str(caught.value)


def test_an_echoed_signature_is_redacted_in_place() -> None:
    recorder = Recorder(
        lambda r: error(400, "GW.400", f"Authorization: {r.headers['Authorization']}")
    )
    with pytest.raises(HttpError) as caught:
        run(make_client(recorder, auth=AkSkAuth(ECHO_AK, ECHO_SK, "proj")).list_pools())
    assert str(caught.value) == (
        f"GET {BASE}: HTTP 400 GW.400: Authorization: REDACTED (request id rid-1)"
    )


def test_credentials_a_proxy_adds_are_redacted_by_their_header_names() -> None:
    """Credentials np did not send (a proxy's own) are found by the header that carries them."""
    body = "denied: {'Authorization': 'Bearer proxy-secret-1', 'X-Security-Token': 'sts-2'}"
    recorder = Recorder(httpx.Response(403, text=body))
    with pytest.raises(HttpError) as caught:
        run(make_client(recorder).list_pools())
    assert str(caught.value) == (
        f"GET {BASE}: HTTP 403: denied: {{'Authorization': 'REDACTED', 'X-Security-Token': "
        "'REDACTED'}"
    )


def test_the_verbose_log_redacts_credentials_echoed_in_response_headers() -> None:
    lines: list[str] = []
    auth = AkSkAuth(ECHO_AK, ECHO_SK, "proj", ECHO_TOKEN)

    def echo(request: httpx.Request) -> httpx.Response:
        return respond(
            200,
            {"items": []},
            X_Echo_Token=request.headers["X-Security-Token"],
            X_Echo_Auth=request.headers["Authorization"],
        )

    http = build_http_client(
        "http://sim",
        transport=httpx.MockTransport(Recorder(echo)),
        auth=auth,
        max_connections=1,
        timeout=5.0,
        verbose_log=lines.append,
    )
    run(ModelArtsClient(http, "proj").list_pools())
    response_line = lines[1]
    assert "X-Echo-Token: REDACTED" in response_line
    assert "X-Echo-Auth: REDACTED" in response_line
    for secret in (ECHO_AK, ECHO_SK, ECHO_TOKEN, "Signature="):
        assert secret not in "\n".join(lines)
