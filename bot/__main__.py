"""`python -m bot` runs the console command."""

import sys

from bot.cli import main

sys.exit(main())
