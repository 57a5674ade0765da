"""The content filter over its corpus (tests/security/data, made by make_content_corpus.py): PII written every
way the corpus knows must be blocked (recall >= 99%), ordinary coaching messages must pass (false positives
<= 1%). Run with -s to see the numbers."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from policy.content import scan_outgoing_fields

DATA = Path(__file__).parent / "data"
MIN_RECALL = 0.99
MAX_FALSE_POSITIVE_RATE = 0.01
MIN_CASES = 300


def corpus(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def caught(case: dict[str, Any]) -> bool:
    """Whether the filter blocks the case for the kind of data it holds."""
    verdict = scan_outgoing_fields(case["fields"])
    return verdict is not None and case["kind"] in verdict.kinds


@pytest.fixture(scope="module")
def pii() -> list[dict[str, Any]]:
    return corpus("pii_must_block.jsonl")


@pytest.fixture(scope="module")
def ordinary() -> list[dict[str, Any]]:
    return corpus("ordinary_must_pass.jsonl")


def test_the_corpus_is_large_enough_and_covers_every_kind_and_split_fields(pii, ordinary) -> None:
    assert len(pii) >= MIN_CASES and len(ordinary) >= MIN_CASES
    assert set(Counter(case["kind"] for case in pii)) == {"credit_card", "iban", "us_ssn", "secret_code"}
    assert any(len(case["fields"]) > 1 for case in pii) and any(len(case["fields"]) > 1 for case in ordinary)


def test_the_filter_blocks_at_least_99_percent_of_the_pii_variants(pii) -> None:
    missed = [case for case in pii if not caught(case)]
    recall = 1 - len(missed) / len(pii)
    by_kind = Counter(case["kind"] for case in missed)
    print(f"\nrecall {recall:.4f}: {len(pii) - len(missed)} of {len(pii)} PII variants blocked; missed by kind {dict(by_kind)}")
    assert recall >= MIN_RECALL, [(case["kind"], case["variant"]) for case in missed]


def test_the_filter_blocks_at_most_1_percent_of_ordinary_messages(ordinary) -> None:
    blocked = [case for case in ordinary if scan_outgoing_fields(case["fields"]) is not None]
    rate = len(blocked) / len(ordinary)
    print(f"\nfalse positives {rate:.4f}: {len(blocked)} of {len(ordinary)} ordinary messages blocked")
    assert rate <= MAX_FALSE_POSITIVE_RATE, [case["fields"] for case in blocked]
