"""What the people who keep Heli running look at: queues and workers, the periodic jobs' last
runs, which outside services are sandboxes, and the figures /metrics exports."""
