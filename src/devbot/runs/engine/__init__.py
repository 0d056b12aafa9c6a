"""The durable-run engine: DBOS launched once per process, the queues, the workflows it
registers (`engine.flows`), workers and the supervisor, submitting and operating runs."""
