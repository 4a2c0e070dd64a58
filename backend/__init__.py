"""Heli (合蛎): the commerce backend of a rural industry alliance."""
