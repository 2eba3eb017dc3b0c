import sys

from monitor.cli import main
from monitor.config import ConfigError
from monitor.languages import use_terminal_language

use_terminal_language()  # before click says a word of its own ("Usage:", "Error: …")
try:
    main()
except ConfigError as exc:  # one line naming the key, not a traceback
    print(f"configuration error: {exc}", file=sys.stderr)
    sys.exit(2)
