"""``python -m local.fakes.economic``: serve a seeded e-conomic fake until Ctrl-C (see ``cli.main``)."""

from local.fakes.economic.cli import main

if __name__ == "__main__":
    main()
