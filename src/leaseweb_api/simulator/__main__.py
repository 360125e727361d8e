import sys

from leaseweb_api.simulator.cli import main

sys.exit(main())
