"""The livestream co-host bot and the Official Account bot (they call backend services)."""
