"""The livestream co-host bot: reads viewer comments in a live room, answers and records claims."""
