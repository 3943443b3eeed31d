// @generated automatically by Diesel CLI.

diesel::table! {
    account_tokens (token_hash) {
        token_hash -> Bytea,
        user_id -> Uuid,
        purpose -> Text,
        new_email -> Nullable<Text>,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    api_keys (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        name -> Text,
        prefix -> Text,
        key_hash -> Bytea,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        scope -> Text,
    }
}

diesel::table! {
    analytics_daily (organization_id, day, metric, dim) {
        organization_id -> Uuid,
        day -> Date,
        metric -> Text,
        dim -> Text,
        count -> Int8,
    }
}

diesel::table! {
    api_idempotency_keys (organization_id, idempotency_key) {
        organization_id -> Uuid,
        idempotency_key -> Text,
        request_hash -> Bytea,
        response_status -> Nullable<Int2>,
        response_body -> Nullable<Text>,
        response_location -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    audit_events (organization_id, id) {
        organization_id -> Uuid,
        id -> Int8,
        actor_user_id -> Nullable<Uuid>,
        actor_label -> Text,
        action -> Text,
        target -> Text,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    invitations (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        email -> Text,
        role -> Text,
        token_hash -> Bytea,
        invited_by -> Nullable<Uuid>,
        expires_at -> Timestamptz,
        accepted_at -> Nullable<Timestamptz>,
        accepted_by -> Nullable<Uuid>,
        revoked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    invoice_lines (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        invoice_id -> Uuid,
        description -> Text,
        quantity -> Int4,
        unit_cents -> Int8,
        amount_cents -> Int8,
    }
}

diesel::table! {
    invoices (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        number -> Text,
        year -> Int4,
        seq -> Int4,
        status -> Text,
        currency -> Text,
        total_cents -> Int8,
        period_start -> Timestamptz,
        period_end -> Timestamptz,
        customer -> Jsonb,
        provider_invoice_id -> Nullable<Text>,
        issued_at -> Nullable<Timestamptz>,
        paid_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        provider_state_at -> Nullable<Timestamptz>,
        hosted_url -> Nullable<Text>,
        vat_rate_bp -> Int4,
        vat_cents -> Int8,
        vat_note -> Nullable<Text>,
        net_cents -> Int8,
        needs_confirmation -> Bool,
        seller -> Nullable<Jsonb>,
    }
}

diesel::table! {
    lead_bulk_jobs (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        requested_by -> Nullable<Uuid>,
        action -> Text,
        tag -> Text,
        lead_ids -> Array<Uuid>,
        total -> Int4,
        done -> Int4,
        changed -> Int4,
        status -> Text,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    lead_edits (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        lead_id -> Uuid,
        changed_by -> Nullable<Uuid>,
        changes -> Jsonb,
        changed_at -> Timestamptz,
    }
}

diesel::table! {
    lead_imports (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        created_by -> Nullable<Uuid>,
        filename -> Text,
        content -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    leads (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        first_name -> Text,
        last_name -> Text,
        email -> Text,
        company -> Text,
        title -> Text,
        phone -> Text,
        status -> Text,
        tags -> Array<Nullable<Text>>,
        notes -> Text,
        owner_user_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        source -> Text,
        time_zone -> Nullable<Text>,
    }
}

diesel::table! {
    lead_status_changes (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        lead_id -> Uuid,
        changed_by -> Nullable<Uuid>,
        from_status -> Nullable<Text>,
        to_status -> Text,
        changed_at -> Timestamptz,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    limit_overrides (organization_id, limit_kind) {
        organization_id -> Uuid,
        limit_kind -> Text,
        value -> Nullable<Int8>,
        ends_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Uuid,
        organization_id -> Nullable<Uuid>,
        message_id -> Nullable<Uuid>,
        kind -> Text,
        to_email -> Text,
        subject -> Text,
        body_text -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        body_html -> Nullable<Text>,
        unsubscribe_token -> Nullable<Text>,
        mailbox_id -> Nullable<Uuid>,
        rfc_message_id -> Nullable<Text>,
        in_reply_to -> Nullable<Text>,
        thread_references -> Nullable<Text>,
        reply_to -> Nullable<Text>,
        claimed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    message_templates (owner_key, id) {
        organization_id -> Nullable<Uuid>,
        owner_key -> Uuid,
        id -> Uuid,
        name -> Text,
        subject -> Text,
        body -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    messages (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        lead_id -> Uuid,
        template_owner_key -> Nullable<Uuid>,
        template_id -> Nullable<Uuid>,
        enrollment_id -> Nullable<Uuid>,
        step_position -> Nullable<Int4>,
        to_email -> Text,
        subject -> Text,
        body -> Text,
        status -> Text,
        sender_user_id -> Nullable<Uuid>,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        mailbox_id -> Nullable<Uuid>,
        rfc_message_id -> Nullable<Text>,
        in_reply_to -> Nullable<Text>,
        thread_references -> Nullable<Text>,
        bounced_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    notices (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        user_id -> Uuid,
        kind -> Text,
        message -> Text,
        dedupe_key -> Text,
        read_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    org_exports (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        requested_by -> Nullable<Uuid>,
        status -> Text,
        file_path -> Nullable<Text>,
        file_bytes -> Nullable<Int8>,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        expires_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    organization_members (organization_id, user_id) {
        organization_id -> Uuid,
        user_id -> Uuid,
        role -> Text,
        can_manage_leads -> Bool,
        can_send_messages -> Bool,
        can_manage_templates -> Bool,
        joined_at -> Timestamptz,
    }
}

diesel::table! {
    organizations (id) {
        id -> Uuid,
        name -> Text,
        slug -> Text,
        time_zone -> Text,
        brand_name -> Nullable<Text>,
        brand_color -> Nullable<Text>,
        logo_content_type -> Nullable<Text>,
        logo_data -> Nullable<Bytea>,
        billing_company -> Nullable<Text>,
        billing_address -> Nullable<Text>,
        billing_vat_id -> Nullable<Text>,
        billing_country -> Nullable<Text>,
        deletion_scheduled_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        suppression_salt -> Bytea,
    }
}

diesel::table! {
    payment_events (event_id) {
        event_id -> Text,
        organization_id -> Nullable<Uuid>,
        #[sql_name = "type"]
        type_ -> Text,
        provider_created_at -> Timestamptz,
        processed_at -> Timestamptz,
        customer -> Nullable<Text>,
        payload -> Nullable<Jsonb>,
        pending -> Bool,
    }
}

diesel::table! {
    stripe_operations (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        kind -> Text,
        target -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        done_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    rate_limits (bucket) {
        bucket -> Text,
        window_start -> Timestamptz,
        hits -> Int4,
    }
}

diesel::table! {
    sequence_enrollments (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        lead_id -> Uuid,
        sequence_owner_key -> Uuid,
        sequence_id -> Uuid,
        next_step -> Int4,
        status -> Text,
        next_run_at -> Nullable<Timestamptz>,
        enrolled_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        paused_reason -> Nullable<Text>,
        mailbox_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    sequence_steps (owner_key, id) {
        organization_id -> Nullable<Uuid>,
        owner_key -> Uuid,
        id -> Uuid,
        sequence_id -> Uuid,
        position -> Int4,
        template_owner_key -> Uuid,
        template_id -> Uuid,
        delay_days -> Int4,
    }
}

diesel::table! {
    sequences (owner_key, id) {
        organization_id -> Nullable<Uuid>,
        owner_key -> Uuid,
        id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        stop_on_reply -> Bool,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        token_hash -> Bytea,
        user_id -> Uuid,
        csrf_token -> Text,
        user_agent -> Text,
        ip -> Text,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    subscriptions (organization_id) {
        organization_id -> Uuid,
        plan -> Text,
        status -> Text,
        billing_interval -> Text,
        trial_ends_at -> Nullable<Timestamptz>,
        current_period_start -> Timestamptz,
        current_period_end -> Timestamptz,
        past_due_since -> Nullable<Timestamptz>,
        cancel_at_period_end -> Bool,
        scheduled_plan -> Nullable<Text>,
        has_payment_method -> Bool,
        provider -> Text,
        provider_customer_id -> Nullable<Text>,
        provider_subscription_id -> Nullable<Text>,
        provider_state_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        pending_change -> Nullable<Text>,
        pending_since -> Nullable<Timestamptz>,
        scheduled_interval -> Nullable<Text>,
        provider_schedule_id -> Nullable<Text>,
        card_last4 -> Nullable<Text>,
        checkout_session_id -> Nullable<Text>,
    }
}

diesel::table! {
    suppressions (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        email_hash -> Bytea,
        email_hint -> Nullable<Text>,
        reason -> Text,
        note -> Text,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    unsubscribe_tokens (organization_id, token_hash) {
        organization_id -> Uuid,
        token_hash -> Bytea,
        lead_id -> Nullable<Uuid>,
        email_hash -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    usage_counters (organization_id, kind, period, period_start) {
        organization_id -> Uuid,
        kind -> Text,
        period -> Text,
        period_start -> Date,
        count -> Int8,
    }
}

diesel::table! {
    usage_records (organization_id, id) {
        organization_id -> Uuid,
        id -> Int8,
        kind -> Text,
        user_id -> Nullable<Uuid>,
        resource_id -> Nullable<Uuid>,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        email_verified_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        endpoint_id -> Uuid,
        webhook_event_id -> Uuid,
        attempted_at -> Timestamptz,
        status_code -> Nullable<Int4>,
        latency_ms -> Int4,
        response_body -> Text,
        error -> Nullable<Text>,
        succeeded -> Bool,
    }
}

diesel::table! {
    webhook_endpoints (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        url -> Text,
        description -> Text,
        event_types -> Array<Nullable<Text>>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamptz>,
        failing_since -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_events (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        event_id -> Uuid,
        endpoint_id -> Uuid,
        event_type -> Text,
        data -> Jsonb,
        created_at -> Timestamptz,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    inbound_messages (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        mailbox_id -> Uuid,
        kind -> Text,
        lead_id -> Nullable<Uuid>,
        message_id -> Nullable<Uuid>,
        dedupe_key -> Text,
        from_email -> Text,
        subject -> Text,
        body_text -> Text,
        bounce_status -> Nullable<Text>,
        bounce_recipient -> Nullable<Text>,
        received_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    mailboxes (organization_id, id) {
        organization_id -> Uuid,
        id -> Uuid,
        owner_user_id -> Nullable<Uuid>,
        display_name -> Text,
        email -> Text,
        smtp_host -> Text,
        smtp_port -> Int4,
        smtp_security -> Text,
        smtp_username -> Text,
        smtp_password -> Bytea,
        imap_host -> Text,
        imap_port -> Int4,
        imap_security -> Text,
        imap_username -> Text,
        imap_password -> Bytea,
        imap_folder -> Text,
        daily_cap -> Int4,
        min_gap_seconds -> Int4,
        gap_jitter_percent -> Int4,
        send_days -> Int4,
        window_start_minute -> Int4,
        window_end_minute -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    mailbox_states (organization_id, mailbox_id) {
        organization_id -> Uuid,
        mailbox_id -> Uuid,
        status -> Text,
        status_reason -> Nullable<Text>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<Timestamptz>,
        next_send_at -> Nullable<Timestamptz>,
        last_send_at -> Nullable<Timestamptz>,
        imap_uid_validity -> Nullable<Int8>,
        imap_last_uid -> Int8,
        last_poll_at -> Nullable<Timestamptz>,
        next_poll_at -> Timestamptz,
        booked_day -> Nullable<Date>,
        booked_count -> Int4,
    }
}

diesel::table! {
    sequence_mailboxes (organization_id, sequence_owner_key, sequence_id, mailbox_id) {
        organization_id -> Uuid,
        sequence_owner_key -> Uuid,
        sequence_id -> Uuid,
        mailbox_id -> Uuid,
    }
}

diesel::table! {
    sequence_senders (organization_id, sequence_owner_key, sequence_id) {
        organization_id -> Uuid,
        sequence_owner_key -> Uuid,
        sequence_id -> Uuid,
        mode -> Text,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(account_tokens -> users (user_id));
diesel::joinable!(api_idempotency_keys -> organizations (organization_id));
diesel::joinable!(api_keys -> organizations (organization_id));
diesel::joinable!(api_keys -> users (created_by));
diesel::joinable!(audit_events -> organizations (organization_id));
diesel::joinable!(audit_events -> users (actor_user_id));
diesel::joinable!(invitations -> organizations (organization_id));
diesel::joinable!(inbound_messages -> organizations (organization_id));
diesel::joinable!(invoices -> organizations (organization_id));
diesel::joinable!(lead_bulk_jobs -> organizations (organization_id));
diesel::joinable!(lead_bulk_jobs -> users (requested_by));
diesel::joinable!(lead_imports -> organizations (organization_id));
diesel::joinable!(lead_imports -> users (created_by));
diesel::joinable!(leads -> organizations (organization_id));
diesel::joinable!(leads -> users (owner_user_id));
diesel::joinable!(limit_overrides -> organizations (organization_id));
diesel::joinable!(mail_outbox -> organizations (organization_id));
diesel::joinable!(mailboxes -> organizations (organization_id));
diesel::joinable!(mailboxes -> users (owner_user_id));
diesel::joinable!(message_templates -> organizations (organization_id));
diesel::joinable!(messages -> organizations (organization_id));
diesel::joinable!(messages -> users (sender_user_id));
diesel::joinable!(notices -> organizations (organization_id));
diesel::joinable!(notices -> users (user_id));
diesel::joinable!(org_exports -> organizations (organization_id));
diesel::joinable!(org_exports -> users (requested_by));
diesel::joinable!(organization_members -> organizations (organization_id));
diesel::joinable!(organization_members -> users (user_id));
diesel::joinable!(payment_events -> organizations (organization_id));
diesel::joinable!(sequence_enrollments -> organizations (organization_id));
diesel::joinable!(sequence_enrollments -> users (enrolled_by));
diesel::joinable!(sequence_steps -> organizations (organization_id));
diesel::joinable!(sequences -> organizations (organization_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(subscriptions -> organizations (organization_id));
diesel::joinable!(suppressions -> organizations (organization_id));
diesel::joinable!(unsubscribe_tokens -> organizations (organization_id));
diesel::joinable!(usage_counters -> organizations (organization_id));
diesel::joinable!(usage_records -> organizations (organization_id));
diesel::joinable!(usage_records -> users (user_id));
diesel::joinable!(webhook_deliveries -> organizations (organization_id));
diesel::joinable!(webhook_endpoints -> organizations (organization_id));
diesel::joinable!(webhook_events -> organizations (organization_id));

diesel::allow_tables_to_appear_in_same_query!(
    account_tokens,
    analytics_daily,
    api_idempotency_keys,
    api_keys,
    audit_events,
    inbound_messages,
    invitations,
    invoice_lines,
    invoices,
    lead_bulk_jobs,
    lead_imports,
    lead_edits,
    lead_status_changes,
    leads,
    limit_overrides,
    mail_outbox,
    mailbox_states,
    mailboxes,
    message_templates,
    messages,
    notices,
    org_exports,
    organization_members,
    organizations,
    payment_events,
    rate_limits,
    sequence_enrollments,
    sequence_mailboxes,
    sequence_senders,
    sequence_steps,
    sequences,
    sessions,
    stripe_operations,
    subscriptions,
    suppressions,
    unsubscribe_tokens,
    usage_counters,
    usage_records,
    users,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
);
