"""``python -m local.fakes.hubspot``: run the HubSpot fake on a port (see ``cli.main``)."""

from local.fakes.hubspot.cli import main

if __name__ == "__main__":
    main()
