"""Amazon ECR's lifecycle policy evaluator, as documented, for replaying a policy offline.

The rules implemented here, from "Lifecycle policy evaluation rules" and the lifecycle policy
parameters and examples of the ECR User Guide
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html,
https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html,
https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_examples.html):

- rules are all evaluated, then applied in ``rulePriority`` order, lowest first;
- an image is expired by exactly one or zero rules;
- an image that matches the tagging requirements of a rule cannot be expired by a rule with a
  lower priority; rules never mark images marked by higher-priority rules, but still count them
  "as if they haven't been expired";
- ``tagPrefixList`` / ``tagPatternList``: an image matches when *every* entry matches at least
  one of its tags (a prefix, or a pattern whose ``*`` matches any characters);
- ``imageCountMoreThan``: the selected images sorted from youngest to oldest by push time,
  everything past ``countNumber`` is expired; ``sinceImagePushed``: everything pushed more than
  ``countNumber`` days ago;
- expiration is always ordered by push time, older images first.

Policies this module cannot evaluate faithfully (archive storage class, transition actions,
other count types) are refused, never approximated; so are policies ECR itself refuses
(duplicate priorities, an ``any`` rule that is not last, two rules that select untagged images,
missing or misplaced tag lists, more than four wildcards in a pattern).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

TagStatus = Literal["tagged", "untagged", "any"]
CountType = Literal["imageCountMoreThan", "sinceImagePushed"]
MAX_WILDCARDS = 4


class PolicyError(ValueError):
    """A policy ECR would refuse, or one this evaluator does not model."""


@dataclass(frozen=True)
class Image:
    digest: str
    tags: frozenset[str]
    pushed_at: dt.datetime


@dataclass(frozen=True)
class Rule:
    priority: int
    tag_status: TagStatus
    prefixes: tuple[str, ...]
    patterns: tuple[str, ...]
    count_type: CountType
    count_number: int

    def matches(self, image: Image) -> bool:
        """Whether the image meets this rule's tagging requirements (its selection by tag)."""
        if self.tag_status == "any":
            return True
        if self.tag_status == "untagged":
            return not image.tags
        return (
            bool(image.tags)
            and all(any(tag.startswith(prefix) for tag in image.tags) for prefix in self.prefixes)
            and all(
                any(_wildcard(pattern).fullmatch(tag) for tag in image.tags)
                for pattern in self.patterns
            )
        )

    def candidates(self, images: Iterable[Image], now: dt.datetime) -> list[Image]:
        """The selected images this rule would expire, oldest first."""
        selected = sorted((i for i in images if self.matches(i)), key=lambda i: i.pushed_at)
        if self.count_type == "imageCountMoreThan":
            return selected[: max(len(selected) - self.count_number, 0)]
        limit = now - dt.timedelta(days=self.count_number)
        return [image for image in selected if image.pushed_at < limit]


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


_SELECTION_KEYS = {
    "tagStatus",
    "tagPrefixList",
    "tagPatternList",
    "countType",
    "countUnit",
    "countNumber",
}


def _rule(raw: Mapping[str, Any]) -> Rule:
    priority = _priority(raw)
    selection = raw.get("selection", {})
    if unknown := set(selection) - _SELECTION_KEYS:
        raise PolicyError(f"rule {priority}: selection keys not modelled: {sorted(unknown)}")
    status, prefixes, patterns = _tag_selection(priority, selection)
    count_type, number = _count_selection(priority, selection)
    return Rule(priority, status, prefixes, patterns, count_type, number)


def _priority(raw: Mapping[str, Any]) -> int:
    """The rule's priority, once it is known to be an expire rule this module models."""
    priority = raw.get("rulePriority")
    if not isinstance(priority, int) or priority < 1:
        raise PolicyError(f"rulePriority must be a positive integer, got {priority!r}")
    if raw.get("action") != {"type": "expire"}:
        raise PolicyError(
            f"rule {priority}: only the expire action is modelled, got {raw.get('action')!r}"
        )
    return priority


def _tag_selection(
    priority: int, selection: Mapping[str, Any]
) -> tuple[TagStatus, tuple[str, ...], tuple[str, ...]]:
    """Which images the rule selects by tag: its tagStatus, prefixes and patterns."""
    status = selection.get("tagStatus")
    prefixes = tuple(selection.get("tagPrefixList", ()))
    patterns = tuple(selection.get("tagPatternList", ()))
    if status not in ("tagged", "untagged", "any"):
        raise PolicyError(f"rule {priority}: tagStatus must be tagged, untagged or any")
    if status == "tagged" and not (prefixes or patterns):
        raise PolicyError(f"rule {priority}: tagged needs a tagPrefixList or tagPatternList")
    if status != "tagged" and (prefixes or patterns):
        raise PolicyError(f"rule {priority}: only a tagged rule may list tags")
    if prefixes and patterns:
        raise PolicyError(f"rule {priority}: tagPrefixList and tagPatternList are exclusive")
    if any(pattern.count("*") > MAX_WILDCARDS for pattern in patterns):
        raise PolicyError(f"rule {priority}: at most {MAX_WILDCARDS} wildcards per pattern")
    return status, prefixes, patterns


def _count_selection(priority: int, selection: Mapping[str, Any]) -> tuple[CountType, int]:
    """How the rule counts what it expires: its countType and countNumber."""
    count_type = selection.get("countType")
    number = selection.get("countNumber")
    if count_type not in ("imageCountMoreThan", "sinceImagePushed"):
        raise PolicyError(f"rule {priority}: countType {count_type!r} is not modelled")
    if not isinstance(number, int) or number < 1:
        raise PolicyError(f"rule {priority}: countNumber must be a positive integer")
    if (count_type == "sinceImagePushed") != (selection.get("countUnit") == "days"):
        raise PolicyError(f"rule {priority}: countUnit days goes with sinceImagePushed only")
    return count_type, number


def parse_policy(text: str) -> list[Rule]:
    """The rules of a lifecycle policy document (LifecyclePolicyText), by priority."""
    rules = sorted((_rule(raw) for raw in json.loads(text)["rules"]), key=lambda r: r.priority)
    priorities = [rule.priority for rule in rules]
    if len(set(priorities)) != len(priorities):
        raise PolicyError(f"rule priorities must be unique, got {priorities}")
    if any(rule.tag_status == "any" for rule in rules[:-1]):
        raise PolicyError("a rule with tagStatus any must have the highest rulePriority")
    if sum(rule.tag_status == "untagged" for rule in rules) > 1:
        raise PolicyError("only one rule may select untagged images")
    tag_sets = [rule.prefixes + rule.patterns for rule in rules if rule.tag_status == "tagged"]
    if len({frozenset(tags) for tags in tag_sets}) != len(tag_sets):
        raise PolicyError("the rules must contain a unique set of tag prefixes")
    return rules


def expired(rules: list[Rule], images: Iterable[Image], now: dt.datetime) -> dict[str, int]:
    """The digests the policy expires, each with the priority of the rule that expires it."""
    images = list(images)
    expiring: dict[str, int] = {}
    for index, rule in enumerate(rules):
        higher = rules[:index]
        for image in rule.candidates(images, now):
            if image.digest in expiring or any(other.matches(image) for other in higher):
                continue
            expiring[image.digest] = rule.priority
    return expiring
