"""The bodies of durable runs: one skeleton (`skeleton.DurableRun`) that plan runs and
feedback runs fill in, the webhook delivery flow, and the parts they share (the agent,
verification, the report, the change-set guard, worktrees). Flows know a `Runtime`, never
the engine: the engine registers them with DBOS."""
