"""The reference shop: storefront and JSON API on PostgreSQL, Redis, S3 and Secrets Manager."""
