DROP TABLE payment_events; DROP INDEX subscriptions_provider_customer;
