DROP TABLE IF EXISTS api_keys, invoice_lines, invoices, mail_outbox, messages, sequence_enrollments,
    sequence_steps, sequences, message_templates, leads, audit_events, notices, limit_overrides,
    usage_counters, usage_records, account_tokens, rate_limits, sessions, invitations,
    organization_members, subscriptions, organizations, users CASCADE;
