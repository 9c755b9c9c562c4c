import sys

from jepa_ros.cli.main import main

sys.exit(main())
