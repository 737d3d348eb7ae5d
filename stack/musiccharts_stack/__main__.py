import sys

from musiccharts_stack.run import main

sys.exit(main())
