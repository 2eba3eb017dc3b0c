import sys

from monitor.cli import main
from monitor.config import ConfigError
from monitor.core.messages import msg
from monitor.languages import terminal_text, use_terminal_language

use_terminal_language()  # before click says a word of its own ("Usage:", "Error: …")
try:
    main()
except ConfigError as exc:  # one line naming the key, not a traceback
    print(terminal_text(msg("configuration error: {problem}", problem=str(exc))), file=sys.stderr)
    sys.exit(2)
