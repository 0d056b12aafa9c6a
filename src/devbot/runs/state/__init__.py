"""What runs keep in the run database: run records, webhook deliveries, feedback bookkeeping
and the permission cache. Nothing here imports anything else of `runs`."""
