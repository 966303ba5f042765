import sys

from gui.main import main

sys.exit(main())
