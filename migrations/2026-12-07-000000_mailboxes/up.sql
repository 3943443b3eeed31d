-- Sender mailboxes and conversations: an organization's own mailboxes (SMTP
-- to send, IMAP to read replies and bounces), the threading headers of every
-- message, and what came back.
--
-- Passwords are stored only encrypted (XChaCha20-Poly1305 under MAILBOX_KEY:
-- a version byte, the nonce, then the ciphertext), never in clear.
CREATE TABLE mailboxes (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    -- The member who connected it (a MEMBER manages only their own).
    owner_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    email text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    smtp_host text NOT NULL CHECK (length(smtp_host) BETWEEN 1 AND 253),
    smtp_port integer NOT NULL CHECK (smtp_port BETWEEN 1 AND 65535),
    smtp_security text NOT NULL CHECK (smtp_security IN ('tls', 'starttls', 'none')),
    smtp_username text NOT NULL CHECK (length(smtp_username) <= 320),
    smtp_password bytea NOT NULL,
    imap_host text NOT NULL CHECK (length(imap_host) BETWEEN 1 AND 253),
    imap_port integer NOT NULL CHECK (imap_port BETWEEN 1 AND 65535),
    imap_security text NOT NULL CHECK (imap_security IN ('tls', 'starttls', 'none')),
    imap_username text NOT NULL CHECK (length(imap_username) <= 320),
    imap_password bytea NOT NULL,
    imap_folder text NOT NULL DEFAULT 'INBOX' CHECK (length(imap_folder) BETWEEN 1 AND 200),
    -- Pacing: at most daily_cap sends a local day, at least min_gap_seconds
    -- (± gap_jitter_percent) between two, on the days of send_days
    -- (bit 0 = Monday … bit 6 = Sunday) between the window's minutes of the day.
    daily_cap integer NOT NULL DEFAULT 50 CHECK (daily_cap BETWEEN 1 AND 10000),
    min_gap_seconds integer NOT NULL DEFAULT 90 CHECK (min_gap_seconds BETWEEN 0 AND 86400),
    gap_jitter_percent integer NOT NULL DEFAULT 30 CHECK (gap_jitter_percent BETWEEN 0 AND 100),
    send_days integer NOT NULL DEFAULT 31 CHECK (send_days BETWEEN 1 AND 127),
    window_start_minute integer NOT NULL DEFAULT 540 CHECK (window_start_minute BETWEEN 0 AND 1439),
    window_end_minute integer NOT NULL DEFAULT 1020 CHECK (window_end_minute BETWEEN 1 AND 1440),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, email),
    CHECK (window_start_minute < window_end_minute)
);
CREATE INDEX mailboxes_owner ON mailboxes (organization_id, owner_user_id);

-- What the app knows of a mailbox at work, apart from its settings: its
-- health, its pacing and how far its inbox has been read. One row per
-- mailbox, written with it.
CREATE TABLE mailbox_states (
    organization_id uuid NOT NULL,
    mailbox_id uuid NOT NULL,
    -- active, needs_attention (a login failed), paused (bounce rate).
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'needs_attention', 'paused')),
    status_reason text,
    last_error text,
    last_error_at timestamptz,
    -- The earliest moment the next send may go (last send + jittered gap).
    next_send_at timestamptz,
    last_send_at timestamptz,
    -- Inbox reading: the folder's UIDVALIDITY and the highest UID read.
    imap_uid_validity bigint,
    imap_last_uid bigint NOT NULL DEFAULT 0,
    last_poll_at timestamptz,
    next_poll_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, mailbox_id),
    FOREIGN KEY (organization_id, mailbox_id) REFERENCES mailboxes (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX mailbox_states_due_poll ON mailbox_states (next_poll_at);

-- Every message knows the mailbox it went from (NULL: the platform server)
-- and its threading headers. rfc_message_id is the Message-ID the app
-- generated, without angle brackets; replies are matched by it.
ALTER TABLE messages
    ADD COLUMN mailbox_id uuid,
    ADD COLUMN rfc_message_id text,
    ADD COLUMN in_reply_to text,
    ADD COLUMN thread_references text,
    ADD COLUMN bounced_at timestamptz,
    ADD CONSTRAINT messages_mailbox_fkey FOREIGN KEY (organization_id, mailbox_id)
        REFERENCES mailboxes (organization_id, id) ON DELETE SET NULL (mailbox_id);
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check
    CHECK (status IN ('queued', 'sent', 'failed', 'bounced'));
CREATE UNIQUE INDEX messages_rfc_message_id ON messages (organization_id, rfc_message_id)
    WHERE rfc_message_id IS NOT NULL;
-- A mailbox's sends of a day (its cap) and its last 100 (its bounce rate).
CREATE INDEX messages_mailbox_sent ON messages (organization_id, mailbox_id, sent_at DESC)
    WHERE mailbox_id IS NOT NULL;

-- What came back into a mailbox and was recognised: replies, auto-replies
-- and bounce reports. Anything else is left in the mailbox and not stored.
-- dedupe_key (the mail's Message-ID, else folder UID) keeps a mail seen
-- twice stored once.
CREATE TABLE inbound_messages (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    mailbox_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('reply', 'auto_reply', 'bounce', 'soft_bounce')),
    lead_id uuid,
    -- The sent message it answers or reports on.
    message_id uuid,
    dedupe_key text NOT NULL CHECK (length(dedupe_key) <= 1000),
    from_email text NOT NULL DEFAULT '' CHECK (length(from_email) <= 320),
    subject text NOT NULL DEFAULT '' CHECK (length(subject) <= 1000),
    -- Plain text only (HTML is reduced to text, never rendered); capped.
    body_text text NOT NULL DEFAULT '' CHECK (length(body_text) <= 20000),
    -- Bounces: the DSN's status code (5.1.1) and the failed recipient.
    bounce_status text,
    bounce_recipient text,
    received_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, mailbox_id, dedupe_key),
    FOREIGN KEY (organization_id, mailbox_id) REFERENCES mailboxes (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, lead_id) REFERENCES leads (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, message_id) REFERENCES messages (organization_id, id)
        ON DELETE SET NULL (message_id)
);
CREATE INDEX inbound_messages_lead ON inbound_messages (organization_id, lead_id, received_at);
CREATE INDEX inbound_messages_recent ON inbound_messages (organization_id, mailbox_id, received_at DESC);

-- A lead may have its own time zone: a mailbox's sending window is then
-- read in it instead of the organization's.
ALTER TABLE leads ADD COLUMN time_zone text CHECK (time_zone IS NULL OR length(time_zone) BETWEEN 1 AND 64);

-- Which mailboxes a sequence sends from, per organization (global sequences
-- are shared, so the choice cannot live on the sequence row): 'enroller'
-- (the enrolling member's own mailbox), 'mailboxes' (the chosen ones in
-- rotation) or 'lead_owner' (the lead owner's mailbox). No row: 'enroller'.
CREATE TABLE sequence_senders (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    sequence_owner_key uuid NOT NULL,
    sequence_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('enroller', 'mailboxes', 'lead_owner')),
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, sequence_owner_key, sequence_id),
    FOREIGN KEY (sequence_owner_key, sequence_id) REFERENCES sequences (owner_key, id) ON DELETE CASCADE,
    CHECK (sequence_owner_key = organization_id
           OR sequence_owner_key = '00000000-0000-0000-0000-000000000000')
);
CREATE TABLE sequence_mailboxes (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    sequence_owner_key uuid NOT NULL,
    sequence_id uuid NOT NULL,
    mailbox_id uuid NOT NULL,
    PRIMARY KEY (organization_id, sequence_owner_key, sequence_id, mailbox_id),
    FOREIGN KEY (organization_id, sequence_owner_key, sequence_id)
        REFERENCES sequence_senders (organization_id, sequence_owner_key, sequence_id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, mailbox_id) REFERENCES mailboxes (organization_id, id) ON DELETE CASCADE
);

-- An enrolment keeps the mailbox its first step went from, so the whole
-- thread comes from one address.
ALTER TABLE sequence_enrollments ADD COLUMN mailbox_id uuid,
    ADD CONSTRAINT sequence_enrollments_mailbox_fkey FOREIGN KEY (organization_id, mailbox_id)
        REFERENCES mailboxes (organization_id, id) ON DELETE SET NULL (mailbox_id);

-- A hard bounce puts the address on the suppression list too.
ALTER TABLE suppressions DROP CONSTRAINT suppressions_reason_check;
ALTER TABLE suppressions ADD CONSTRAINT suppressions_reason_check
    CHECK (reason IN ('unsubscribed', 'forgotten', 'added', 'bounced'));

ALTER TABLE mailboxes ENABLE ROW LEVEL SECURITY;
ALTER TABLE mailboxes FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON mailboxes TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON mailboxes
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());

ALTER TABLE mailbox_states ENABLE ROW LEVEL SECURITY;
ALTER TABLE mailbox_states FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON mailbox_states TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON mailbox_states
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());

ALTER TABLE inbound_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE inbound_messages FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON inbound_messages TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON inbound_messages
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());

ALTER TABLE sequence_senders ENABLE ROW LEVEL SECURITY;
ALTER TABLE sequence_senders FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON sequence_senders TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON sequence_senders
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());

ALTER TABLE sequence_mailboxes ENABLE ROW LEVEL SECURITY;
ALTER TABLE sequence_mailboxes FORCE ROW LEVEL SECURITY;
CREATE POLICY system_access ON sequence_mailboxes TO lead_dashboard_system
    USING (true) WITH CHECK (true);
CREATE POLICY tenant_wall ON sequence_mailboxes
    USING (organization_id = ld_current_org()) WITH CHECK (organization_id = ld_current_org());
