"""`python -m rings_cli` is the same program as the `rings` console script."""

from rings_cli.cli import main

if __name__ == "__main__":
    main()
