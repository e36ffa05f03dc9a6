"""Runs the emulator: ``python -m ecs_realism --host 127.0.0.1 --port 4566``."""

from .server import main

if __name__ == "__main__":
    main()
