import sys

from monitor.broker.child import main

sys.exit(main())
