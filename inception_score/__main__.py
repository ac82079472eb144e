import sys

try:
    from inception_score.cli import score_main
except KeyboardInterrupt:  # Ctrl-C before cli.run catches it (while cli imports)
    print('inception-score: interrupted', file=sys.stderr)
    sys.exit(130)
sys.exit(score_main())
