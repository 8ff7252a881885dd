"""JSON API under /api/v1: public routes (public port) and admin routes (internal port)."""
