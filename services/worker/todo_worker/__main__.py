"""``python -m todo_worker``: the one way the worker starts (make dev, the image, the tests).

An invalid setting ends the process at once with exit code 2 and one line on
stderr naming the variable.
"""

from __future__ import annotations

import sys

from todo_common.settings import SettingsError, load_settings
from todo_worker.settings import WorkerSettings


def main() -> int:
    try:
        settings = load_settings(WorkerSettings)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    from todo_worker.worker import run  # noqa: PLC0415 - only once the settings are valid

    return run(settings)


if __name__ == "__main__":
    sys.exit(main())
