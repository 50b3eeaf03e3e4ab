"""`make chaos`: bounded fault and load experiments against a production-shaped stack on
127.0.0.1 (gunicorn, an `ml` worker, a `default` worker, beat) with the real PostgreSQL,
Redis and trained model. See chaos/__main__.py for the list and docs/operations.md#reliability."""
