"""Use cases that span several domains (as Dispatch's `incident/flows.py`): each module orchestrates
domain services that must not import one another. Entry points (routes, bots, jobs) call a flow or a
single service; domains never import a flow."""
