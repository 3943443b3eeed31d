DROP TABLE stripe_operations;
