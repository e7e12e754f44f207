"""The lifecycle evaluator reproduces the outcomes the ECR User Guide documents.

Each example below is one of https://docs.aws.amazon.com/AmazonECR/latest/userguide/
lifecycle_policy_examples.html, with the repository contents and the result the guide states.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from tests.support.ecr_lifecycle import Image, PolicyError, expired, parse_policy

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _image(name: str, tags: list[str], days_ago: float) -> Image:
    return Image(digest=name, tags=frozenset(tags), pushed_at=NOW - dt.timedelta(days=days_ago))


def _rule(priority: int, **selection: Any) -> dict[str, Any]:
    return {"rulePriority": priority, "selection": selection, "action": {"type": "expire"}}


def _policy(*rules: dict[str, Any]) -> str:
    return json.dumps({"rules": list(rules)})


def _expired(policy: str, images: list[Image]) -> set[str]:
    return set(expired(parse_policy(policy), images, NOW))


def test_filtering_on_image_age_expires_untagged_images_older_than_14_days() -> None:
    policy = _policy(
        _rule(
            1, tagStatus="untagged", countType="sinceImagePushed", countUnit="days", countNumber=14
        )
    )
    images = [_image("old", [], 15), _image("young", [], 13), _image("tagged", ["v1"], 30)]
    assert _expired(policy, images) == {"old"}


def test_filtering_on_image_count_keeps_only_one_untagged_image() -> None:
    policy = _policy(_rule(1, tagStatus="untagged", countType="imageCountMoreThan", countNumber=1))
    images = [_image("a", [], 3), _image("b", [], 2), _image("c", [], 1), _image("t", ["x"], 9)]
    assert _expired(policy, images) == {"a", "b"}


# Example A and B of "Filtering on multiple rules": the same repository, priorities swapped.
MULTIPLE = [
    _image("A", ["beta-1", "prod-1"], 10),
    _image("B", ["beta-2", "prod-2"], 9),
    _image("C", ["beta-3"], 8),
]


@pytest.mark.parametrize(
    ("prod", "beta"),
    [
        ({"tagPrefixList": ["prod"]}, {"tagPrefixList": ["beta"]}),
        ({"tagPatternList": ["prod*"]}, {"tagPatternList": ["beta*"]}),
    ],
    ids=["prefix", "pattern"],
)
def test_multiple_rules_example_a_a_lower_rule_cannot_expire_what_a_higher_one_selects(
    prod: dict[str, Any], beta: dict[str, Any]
) -> None:
    # Rule 2 would mark A and B; A is already marked and expiring B would violate Rule 1.
    policy = _policy(
        _rule(1, tagStatus="tagged", countType="imageCountMoreThan", countNumber=1, **prod),
        _rule(2, tagStatus="tagged", countType="imageCountMoreThan", countNumber=1, **beta),
    )
    assert _expired(policy, MULTIPLE) == {"A"}


@pytest.mark.parametrize(
    ("prod", "beta"),
    [
        ({"tagPrefixList": ["prod"]}, {"tagPrefixList": ["beta"]}),
        ({"tagPatternList": ["prod*"]}, {"tagPatternList": ["beta*"]}),
    ],
    ids=["prefix", "pattern"],
)
def test_multiple_rules_example_b_the_higher_rule_sees_all_three_and_expires_two(
    prod: dict[str, Any], beta: dict[str, Any]
) -> None:
    policy = _policy(
        _rule(1, tagStatus="tagged", countType="imageCountMoreThan", countNumber=1, **beta),
        _rule(2, tagStatus="tagged", countType="imageCountMoreThan", countNumber=1, **prod),
    )
    assert _expired(policy, MULTIPLE) == {"A", "B"}


def test_multiple_tags_example_a_an_image_must_match_every_listed_prefix() -> None:
    policy = _policy(
        _rule(
            1,
            tagStatus="tagged",
            tagPrefixList=["alpha", "beta"],
            countType="sinceImagePushed",
            countUnit="days",
            countNumber=5,
        )
    )
    images = [
        _image("A", ["alpha-1"], 12),
        _image("B", ["beta-1"], 11),
        _image("C", ["alpha-2", "beta-2"], 10),
        _image("D", ["alpha-3"], 4),
        _image("E", ["beta-3"], 3),
        _image("F", ["alpha-4", "beta-4"], 2),
    ]
    assert _expired(policy, images) == {"C"}


def test_multiple_tags_example_b_tags_are_not_exclusive() -> None:
    policy = _policy(
        _rule(
            1,
            tagStatus="tagged",
            tagPrefixList=["alpha", "beta"],
            countType="imageCountMoreThan",
            countNumber=1,
        )
    )
    images = [
        _image("A", ["alpha-1", "beta-1", "gamma-1"], 10),
        _image("B", ["alpha-2", "beta-2"], 9),
        _image("C", ["alpha-3", "beta-3", "gamma-2"], 8),
    ]
    assert _expired(policy, images) == {"A", "B"}


def test_a_protecting_rule_keeps_its_images_from_the_catch_all_rule_which_still_counts_them() -> (
    None
):
    policy = _policy(
        _rule(
            1,
            tagStatus="tagged",
            tagPatternList=["release-*"],
            countType="imageCountMoreThan",
            countNumber=10,
        ),
        _rule(2, tagStatus="any", countType="imageCountMoreThan", countNumber=2),
    )
    images = [
        _image("released-old", ["c0ffee", "release-1"], 30),
        _image("unreleased-old", ["beef"], 20),
        _image("released-new", ["f00d", "release-2"], 2),
        _image("newest", ["cafe"], 1),
    ]
    # "any" keeps the two youngest (newest, released-new); of the rest only the unprotected go.
    assert _expired(policy, images) == {"unreleased-old"}


def test_patterns_match_whole_tags_with_star_for_any_characters() -> None:
    policy = _policy(
        _rule(
            1,
            tagStatus="tagged",
            tagPatternList=["release-*"],
            countType="sinceImagePushed",
            countUnit="days",
            countNumber=1,
        )
    )
    images = [
        _image("hit", ["release-abc"], 3),
        _image("infix", ["prerelease-abc"], 3),
        _image("case", ["Release-abc"], 3),
    ]
    assert _expired(policy, images) == {"hit"}


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            [
                _rule(1, tagStatus="any", countType="imageCountMoreThan", countNumber=1),
                _rule(2, tagStatus="untagged", countType="imageCountMoreThan", countNumber=1),
            ],
            "highest rulePriority",
        ),
        (
            [
                _rule(1, tagStatus="untagged", countType="imageCountMoreThan", countNumber=1),
                _rule(1, tagStatus="any", countType="imageCountMoreThan", countNumber=2),
            ],
            "unique",
        ),
        (
            [
                _rule(1, tagStatus="untagged", countType="imageCountMoreThan", countNumber=1),
                _rule(2, tagStatus="untagged", countType="imageCountMoreThan", countNumber=2),
            ],
            "untagged",
        ),
        ([_rule(1, tagStatus="tagged", countType="imageCountMoreThan", countNumber=1)], "needs"),
        (
            [
                _rule(
                    1,
                    tagStatus="tagged",
                    tagPatternList=["a*b*c*d*e*f"],
                    countType="imageCountMoreThan",
                    countNumber=1,
                )
            ],
            "wildcards",
        ),
        (
            [_rule(1, tagStatus="any", countType="imageCountMoreThan", countNumber=0)],
            "positive",
        ),
        (
            [_rule(1, tagStatus="any", countType="sinceImagePulled", countNumber=3)],
            "not modelled",
        ),
        (
            [
                {
                    "rulePriority": 1,
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": 1,
                    },
                    "action": {"type": "transition", "targetStorageClass": "archive"},
                }
            ],
            "expire",
        ),
    ],
    ids=[
        "any-not-last",
        "duplicate-priority",
        "two-untagged",
        "tagged-without-tags",
        "five-wildcards",
        "zero-count",
        "archive-count",
        "transition",
    ],
)
def test_policies_ecr_refuses_or_that_are_not_modelled_are_refused(
    rules: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(json.dumps({"rules": rules}))
