"""The demo mission: its data and the loader that replays it through the services."""
