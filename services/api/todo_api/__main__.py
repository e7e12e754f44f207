"""``python -m todo_api``: the one way the API starts (make dev, the image, the tests).

The settings are read first, before the web stack is even imported: an invalid
setting ends the process at once with exit code 2 and one line on stderr
naming the variable.
"""

from __future__ import annotations

import sys

from todo_api.settings import ApiSettings
from todo_common.settings import SettingsError, load_settings


def main() -> int:
    try:
        settings = load_settings(ApiSettings)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    from todo_api.server import serve  # noqa: PLC0415 - only once the settings are valid

    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
