"""GitHub webhooks: `devbot serve` checks each delivery and hands it to a durable workflow."""
