"""The search modes (their own module: `--help` lists them without loading Arrow)."""

MODES = ("hybrid", "semantic", "keyword")
