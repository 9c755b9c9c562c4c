"""Self-supervised training of the world model: losses, collapse monitors, trainer, probes."""
