"""`python -m zoo` (and `torchrun -m zoo train ...`)."""

from zoo.cli import main

if __name__ == "__main__":
    main()
