"""The fake Ollama server (a test double) speaks the real format and keeps its ground truth."""

from __future__ import annotations

import json

import pytest
import requests
from fakes.fake_ollama import BUSY, FakeConfig, FakeOllama

from loadtest.stream import FailureKind, StreamError, StreamValidator

MODEL = "fake-model:1b"


def stream(url: str, path: str, body: dict) -> tuple[requests.Response, list[dict]]:
    resp = requests.post(url + path, json=body, stream=True, timeout=5)
    return resp, [json.loads(line) for line in resp.iter_lines() if line]


@pytest.mark.parametrize("path", ["/api/generate", "/api/chat"])
def test_streams_ndjson_with_consistent_timings(path: str) -> None:
    config = FakeConfig(model=MODEL, first_token_delay_s=0.06, token_interval_s=0.02)
    body = {"model": MODEL, "prompt": "one two three", "messages": [{"content": "a b"}]}
    with FakeOllama(config) as fake:
        resp, objs = stream(fake.url, path, body)
    assert resp.headers["Content-Type"] == "application/x-ndjson"
    assert resp.headers["Transfer-Encoding"] == "chunked"
    text = [o.get("response") or o.get("message", {}).get("content") for o in objs]
    assert objs[0]["done"] is False and not text[0]  # an empty chunk comes first
    assert all(text[1:-1])
    final = objs[-1]
    assert final["done"] is True and final["done_reason"] == "stop"
    assert final["eval_count"] == 20 == len(objs) - 2  # one empty chunk, 20 tokens, final
    # Timings are measured on a machine that may be busy. Tokens follow an absolute schedule,
    # so a late first token is followed by a catch-up and the rate can land on either side of
    # 1 / token_interval_s (50/s); 20 % catches wrong units or a wrong span, and the exact
    # relation is checked against the ground truth in test_loadtest_locust_runs.py.
    rate = final["eval_count"] / final["eval_duration"] * 1e9
    assert rate == pytest.approx(50, rel=0.2)
    assert 0.03 <= final["prompt_eval_duration"] / 1e9 < 0.1  # D - I, plus any oversleep
    residual = (
        final["total_duration"]
        - final["load_duration"]
        - final["prompt_eval_duration"]
        - final["eval_duration"]
    )
    assert 0 <= residual < 20e6  # no queueing: the queue-wait estimate is near zero
    assert 0.059 <= fake.truth[0].first_token_offset_s < 0.12  # sleeps only run long


def test_num_predict_caps_the_answer() -> None:
    with FakeOllama(FakeConfig(model=MODEL, first_token_delay_s=0.01, token_interval_s=0.001)) as f:
        _, objs = stream(f.url, "/api/generate", {"model": MODEL, "options": {"num_predict": 3}})
    assert (objs[-1]["eval_count"], objs[-1]["done_reason"]) == (3, "length")


def test_parallel_slots_queue_and_the_queue_overflows_with_503() -> None:
    config = FakeConfig(
        model=MODEL, first_token_delay_s=0.2, token_interval_s=0.01, num_parallel=1, max_queue=0
    )
    with FakeOllama(config) as fake:
        first = requests.post(
            fake.url + "/api/generate", json={"model": MODEL}, stream=True, timeout=5
        )
        second = requests.post(fake.url + "/api/generate", json={"model": MODEL}, timeout=5)
        first.close()
    assert second.status_code == 503
    assert second.json()["error"] == BUSY


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("garbage", FailureKind.MALFORMED),
        ("truncate", FailureKind.TRUNCATED),
        ("wrong_model", FailureKind.WRONG_MODEL),
        ("empty", FailureKind.EMPTY_OUTPUT),
        ("missing_timings", FailureKind.MALFORMED),
        ("error_object", FailureKind.SERVER_ERROR),
    ],
)
def test_injected_faults_are_what_the_validator_rejects(fault: str, kind: FailureKind) -> None:
    config = FakeConfig(
        model=MODEL, first_token_delay_s=0.01, token_interval_s=0.001, faults=(fault,)
    )
    with FakeOllama(config) as fake:
        resp = requests.post(
            fake.url + "/api/generate", json={"model": MODEL}, stream=True, timeout=5
        )
        validator = StreamValidator("generate", MODEL)
        with pytest.raises(StreamError) as err:
            for line in resp.iter_lines():
                validator.feed(line, 0.0)
            validator.finish()
    assert err.value.kind is kind


def test_listing_and_health_answer_like_ollama() -> None:
    with FakeOllama(FakeConfig(model=MODEL)) as fake:
        assert requests.get(fake.url + "/", timeout=5).text == "Ollama is running"
        tags = requests.get(fake.url + "/api/tags", timeout=5).json()
    assert [m["name"] for m in tags["models"]] == [MODEL]


def test_bad_fake_configuration_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        FakeConfig(faults=("gremlins",))
    with pytest.raises(ValueError, match="first_token_delay_s >= token_interval_s"):
        FakeConfig(first_token_delay_s=0.01, token_interval_s=0.02)


def test_records_hits_and_answers_management_endpoints() -> None:
    """The e2e-local tier tells forwarded management requests by the fake's hit log."""
    with FakeOllama(FakeConfig(model=MODEL)) as fake:
        pulled = requests.post(f"{fake.url}/api/pull", json={"model": MODEL}, timeout=5)
        deleted = requests.delete(f"{fake.url}/api/delete", json={"model": MODEL}, timeout=5)
        blob = requests.post(f"{fake.url}/api/blobs/sha256:ab", data=b"\x00bin", timeout=5)
        unknown = requests.post(f"{fake.url}/api/nothing", json={}, timeout=5)
        unload = requests.post(
            f"{fake.url}/api/generate",
            json={"model": MODEL, "prompt": "", "keep_alive": 0, "stream": False},
            timeout=5,
        )
        logged = requests.get(f"{fake.url}/_fake/hits", timeout=5).json()["hits"]
        hits = fake.hits
        fake.clear_hits()
        assert fake.hits == []
    assert [pulled.status_code, deleted.status_code, blob.status_code] == [200, 200, 200]
    assert unknown.status_code == 404 and unload.status_code == 200
    assert logged == hits
    assert [(h["method"], h["path"]) for h in hits] == [
        ("POST", "/api/pull"),
        ("DELETE", "/api/delete"),
        ("POST", "/api/blobs/sha256:ab"),
        ("POST", "/api/nothing"),
        ("POST", "/api/generate"),
    ]
    assert hits[-1]["keep_alive"] == 0 and "keep_alive" not in hits[0]
