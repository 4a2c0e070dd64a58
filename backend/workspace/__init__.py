"""The sellers' workspace: what a seller reads and does on their phone pages (today, orders,
shipping, inbox, shops, licence, trace codes) and how they log in to it."""
