"""Entry point for ``python -m dae_utils``."""

from dae_utils.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
