import sys

from monitor.cli import main
from monitor.config import ConfigError

try:
    main()
except ConfigError as exc:  # one line naming the key, not a traceback
    print(f"configuration error: {exc}", file=sys.stderr)
    sys.exit(2)
