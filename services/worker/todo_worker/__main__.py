"""``python -m todo_worker``: the one way the worker starts (make dev, the image, the tests).

An invalid setting ends the process at once with exit code 2 and one line on
stderr naming the variable.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

from todo_common.settings import SettingsError, load_settings
from todo_worker.settings import WorkerSettings


def main() -> int:
    # A stop request during start-up (imports, migrations) is remembered and
    # honoured once the loop exists, instead of killing the process.
    early: list[int] = []

    def remember(signum: int, _frame: FrameType | None) -> None:
        early.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, remember)
    try:
        settings = load_settings(WorkerSettings)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    from todo_worker.worker import run  # noqa: PLC0415 - only once the settings are valid

    return run(settings, early)


if __name__ == "__main__":
    sys.exit(main())
