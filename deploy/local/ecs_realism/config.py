"""The realism knobs (environment, POST /_bosun/config), the pinned moto version, shared constants."""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any


PINNED_MOTO_VERSION = "5.2.5"
LAYER_NAME = "bosun-ecs-realism"

DEFAULT_FAIL_IMAGE = r":fail(-.*)?$|/fail:"
EXIT_CODE_ENV = "BOSUN_EMULATOR_EXIT_CODE"
# "exit N" anywhere in a container command (e.g. ["sh", "-c", "exit 3"]); the first one wins.
EXIT_COMMAND_RE = re.compile(r"(?<![\w-])exit\s+(-?\d+)\b")
MAX_SERVICE_EVENTS = 100  # ECS keeps the 100 most recent service events

log = logging.getLogger("bosun.emulator")


class Config:
    """Timing and failure-injection knobs, from the environment, changeable at runtime."""

    FIELDS = {
        "fail_image": str,
        "rollout_describes": int,
        "task_describes": int,
        "rollout_seconds": float,
    }

    def __init__(self) -> None:
        self.fail_image = os.environ.get("BOSUN_EMULATOR_FAIL_IMAGE", DEFAULT_FAIL_IMAGE)
        self.rollout_describes = int(os.environ.get("BOSUN_EMULATOR_ROLLOUT_DESCRIBES", "2"))
        self.task_describes = int(os.environ.get("BOSUN_EMULATOR_TASK_DESCRIBES", "2"))
        self.rollout_seconds = float(os.environ.get("BOSUN_EMULATOR_ROLLOUT_SECONDS", "2"))
        self._validate()

    def _validate(self) -> None:
        self.fail_re = re.compile(self.fail_image)
        if self.rollout_describes < 1 or self.task_describes < 1:
            raise ValueError("rollout_describes and task_describes must be >= 1")

    def update(self, changes: dict[str, Any]) -> None:
        unknown = set(changes) - set(self.FIELDS)
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        old = self.as_dict()
        try:
            for key, value in changes.items():
                setattr(self, key, self.FIELDS[key](value))
            self._validate()
        except Exception:
            for key, value in old.items():
                setattr(self, key, value)
            self._validate()
            raise

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.FIELDS}


try:
    CONFIG = Config()
except (ValueError, re.error) as exc:
    raise SystemExit(f"{LAYER_NAME}: invalid BOSUN_EMULATOR_* setting: {exc}")


def _steps(describes: int, since: float, needed: int) -> int:
    """How far something has progressed: one step per observation, or by the clock.

    ``needed`` steps settle it; the clock reaches ``needed`` after rollout_seconds.
    """
    by_clock = 0
    if CONFIG.rollout_seconds > 0:
        by_clock = int((time.monotonic() - since) / CONFIG.rollout_seconds * needed)
    return max(describes, by_clock)
