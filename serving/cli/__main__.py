"""``python -m serving.cli``: the same command line as the ``blendcast`` script."""

from serving.cli import main

if __name__ == "__main__":
    main()
