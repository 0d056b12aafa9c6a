"""The web dashboard of runs: `devbot serve` serves it at `/`, `devbot ui` serves it alone."""
