import sys

from inception_score.cli import score_main

sys.exit(score_main())
