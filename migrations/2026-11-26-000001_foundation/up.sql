-- Lead Dashboard schema.
--
-- Tenancy rules (docs/architecture.md, "The tenant wall"):
--  * every tenant table has organization_id NOT NULL (global templates and
--    sequences excepted: NULL there means "provided to every organization");
--  * primary keys, unique constraints and indexes lead with organization_id;
--  * references between tenant tables are composite and include
--    organization_id, so a row can never point into another organization.
--    Templates and sequences, which may be global, carry owner_key
--    (= organization_id, or the nil uuid for global rows) so that a reference
--    can name "my organization's or a global one" and nothing else.

CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    password_hash text NOT NULL,
    email_verified_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE organizations (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 60),
    time_zone text NOT NULL DEFAULT 'UTC',
    brand_name text,
    brand_color text CHECK (brand_color ~ '^#[0-9a-f]{6}$'),
    logo_content_type text CHECK (logo_content_type IN ('image/png', 'image/jpeg', 'image/svg+xml', 'image/webp')),
    logo_data bytea,
    billing_company text,
    billing_address text,
    billing_vat_id text,
    deletion_scheduled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One subscription per organization. Its row is also the per-organization
-- lock taken by count-limited inserts (members, templates, sequences).
CREATE TABLE subscriptions (
    organization_id uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    plan text NOT NULL CHECK (plan IN ('FREE', 'STARTER', 'PROFESSIONAL', 'ENTERPRISE')),
    status text NOT NULL CHECK (status IN ('TRIAL', 'ACTIVE', 'PAST_DUE', 'CANCELED', 'EXPIRED')),
    billing_interval text NOT NULL DEFAULT 'month' CHECK (billing_interval IN ('month', 'year')),
    trial_ends_at timestamptz,
    current_period_start timestamptz NOT NULL,
    current_period_end timestamptz NOT NULL,
    past_due_since timestamptz,
    cancel_at_period_end boolean NOT NULL DEFAULT false,
    scheduled_plan text CHECK (scheduled_plan IN ('FREE', 'STARTER', 'PROFESSIONAL', 'ENTERPRISE')),
    has_payment_method boolean NOT NULL DEFAULT false,
    provider text NOT NULL DEFAULT 'local' CHECK (provider IN ('local', 'stripe')),
    provider_customer_id text,
    provider_subscription_id text,
    provider_state_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_due ON subscriptions (status, trial_ends_at);

CREATE TABLE organization_members (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER', 'VIEWER')),
    can_manage_leads boolean NOT NULL DEFAULT true,
    can_send_messages boolean NOT NULL DEFAULT true,
    can_manage_templates boolean NOT NULL DEFAULT true,
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_members_user ON organization_members (user_id);

CREATE TABLE invitations (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    email text NOT NULL CHECK (email = lower(email)),
    role text NOT NULL CHECK (role IN ('ADMIN', 'MEMBER', 'VIEWER')),
    token_hash bytea NOT NULL UNIQUE,
    invited_by uuid REFERENCES users (id) ON DELETE SET NULL,
    expires_at timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by uuid REFERENCES users (id) ON DELETE SET NULL,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);
-- At most one open invitation per address and organization.
CREATE UNIQUE INDEX invitations_open_email ON invitations (organization_id, email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

-- Server-side sessions: the cookie holds a random token, the table its hash.
CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    token_hash bytea NOT NULL UNIQUE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    current_org_id uuid REFERENCES organizations (id) ON DELETE SET NULL,
    csrf_token text NOT NULL,
    user_agent text NOT NULL DEFAULT '',
    ip text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Fixed-window counters for rate limits (login, password reset, resends).
CREATE TABLE rate_limits (
    bucket text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits integer NOT NULL
);

-- Single-use account tokens: password reset, email verification, email change.
CREATE TABLE account_tokens (
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose text NOT NULL CHECK (purpose IN ('password_reset', 'verify_email', 'change_email')),
    new_email text,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose);

-- Usage: detailed records (history) plus per-period counters (meters).
CREATE TABLE usage_records (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id bigint GENERATED ALWAYS AS IDENTITY,
    kind text NOT NULL CHECK (kind IN ('lead_created', 'message_sent', 'api_call')),
    user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    resource_id uuid,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX usage_records_kind_time ON usage_records (organization_id, kind, occurred_at);

-- period is 'day' or 'month'; period_start is a date in the organization's
-- time zone. Limits are enforced by a conditional upsert on these rows.
CREATE TABLE usage_counters (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('lead_created', 'message_sent', 'api_call')),
    period text NOT NULL CHECK (period IN ('day', 'month')),
    period_start date NOT NULL,
    count bigint NOT NULL DEFAULT 0 CHECK (count >= 0),
    PRIMARY KEY (organization_id, kind, period, period_start)
);

-- Negotiated per-organization limits; value NULL means unlimited.
CREATE TABLE limit_overrides (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    limit_kind text NOT NULL CHECK (limit_kind IN ('leads_per_month', 'users', 'messages_per_day', 'templates', 'sequences')),
    value bigint CHECK (value IS NULL OR value >= 0),
    ends_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, limit_kind)
);

-- In-app notices for one recipient; dedupe_key makes "crossed 80%" happen once.
CREATE TABLE notices (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind text NOT NULL,
    message text NOT NULL,
    dedupe_key text NOT NULL,
    read_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, user_id, dedupe_key)
);

CREATE TABLE audit_events (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id bigint GENERATED ALWAYS AS IDENTITY,
    actor_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    actor_label text NOT NULL,
    action text NOT NULL,
    target text NOT NULL DEFAULT '',
    before jsonb,
    after jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX audit_events_time ON audit_events (organization_id, created_at DESC, id DESC);

CREATE TABLE leads (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    first_name text NOT NULL,
    last_name text NOT NULL DEFAULT '',
    email text NOT NULL CHECK (email = lower(email)),
    company text NOT NULL DEFAULT '',
    title text NOT NULL DEFAULT '',
    phone text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'contacted', 'replied', 'qualified', 'lost')),
    tags text[] NOT NULL DEFAULT '{}',
    notes text NOT NULL DEFAULT '',
    owner_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, email)
);
-- Keyset pagination: newest first, id as tie-breaker.
CREATE INDEX leads_newest ON leads (organization_id, created_at DESC, id DESC);
CREATE INDEX leads_status ON leads (organization_id, status, created_at DESC, id DESC);
CREATE INDEX leads_tags ON leads USING gin (tags);

-- owner_key = coalesce(organization_id, nil uuid): global rows have the nil key.
CREATE TABLE message_templates (
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    owner_key uuid NOT NULL,
    id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    subject text NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_key, id),
    CHECK (owner_key = coalesce(organization_id, '00000000-0000-0000-0000-000000000000'))
);
CREATE INDEX message_templates_org ON message_templates (organization_id, name);

CREATE TABLE sequences (
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    owner_key uuid NOT NULL,
    id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_key, id),
    CHECK (owner_key = coalesce(organization_id, '00000000-0000-0000-0000-000000000000'))
);
CREATE INDEX sequences_org ON sequences (organization_id, name);

-- A step belongs to its sequence's owner and may use a template of the same
-- owner or a global one (template_owner_key nil) — never another organization's.
CREATE TABLE sequence_steps (
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    owner_key uuid NOT NULL,
    id uuid NOT NULL,
    sequence_id uuid NOT NULL,
    position integer NOT NULL CHECK (position >= 1),
    template_owner_key uuid NOT NULL,
    template_id uuid NOT NULL,
    delay_days integer NOT NULL CHECK (delay_days BETWEEN 0 AND 365),
    PRIMARY KEY (owner_key, id),
    UNIQUE (owner_key, sequence_id, position) DEFERRABLE INITIALLY DEFERRED,
    CHECK (owner_key = coalesce(organization_id, '00000000-0000-0000-0000-000000000000')),
    CHECK (template_owner_key = owner_key OR template_owner_key = '00000000-0000-0000-0000-000000000000'),
    FOREIGN KEY (owner_key, sequence_id) REFERENCES sequences (owner_key, id) ON DELETE CASCADE,
    FOREIGN KEY (template_owner_key, template_id) REFERENCES message_templates (owner_key, id)
);

CREATE TABLE sequence_enrollments (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    lead_id uuid NOT NULL,
    sequence_owner_key uuid NOT NULL,
    sequence_id uuid NOT NULL,
    next_step integer NOT NULL DEFAULT 1 CHECK (next_step >= 1),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'completed', 'stopped')),
    next_run_at timestamptz,
    enrolled_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, lead_id, sequence_id),
    CHECK (sequence_owner_key = organization_id OR sequence_owner_key = '00000000-0000-0000-0000-000000000000'),
    FOREIGN KEY (organization_id, lead_id) REFERENCES leads (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (sequence_owner_key, sequence_id) REFERENCES sequences (owner_key, id) ON DELETE CASCADE
);
CREATE INDEX sequence_enrollments_due ON sequence_enrollments (next_run_at) WHERE status = 'active';

CREATE TABLE messages (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    lead_id uuid NOT NULL,
    template_owner_key uuid,
    template_id uuid,
    enrollment_id uuid,
    step_position integer,
    to_email text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    sender_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    PRIMARY KEY (organization_id, id),
    -- A sequence step is sent at most once per enrollment.
    UNIQUE (organization_id, enrollment_id, step_position),
    CHECK (template_owner_key IS NULL OR template_owner_key = organization_id
           OR template_owner_key = '00000000-0000-0000-0000-000000000000'),
    FOREIGN KEY (organization_id, lead_id) REFERENCES leads (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (template_owner_key, template_id) REFERENCES message_templates (owner_key, id) ON DELETE SET NULL,
    FOREIGN KEY (organization_id, enrollment_id) REFERENCES sequence_enrollments (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX messages_newest ON messages (organization_id, created_at DESC, id DESC);
CREATE INDEX messages_lead ON messages (organization_id, lead_id, created_at DESC);

-- Outgoing mail. Platform mail (password resets, verification) belongs to no
-- organization, so organization_id is nullable here; message mail points to
-- its message through a composite key.
CREATE TABLE mail_outbox (
    id uuid PRIMARY KEY,
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    message_id uuid,
    kind text NOT NULL CHECK (kind IN ('message', 'invitation', 'account')),
    to_email text NOT NULL,
    subject text NOT NULL,
    body_text text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    FOREIGN KEY (organization_id, message_id) REFERENCES messages (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX mail_outbox_org ON mail_outbox (organization_id, created_at DESC);

CREATE TABLE invoices (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    number text NOT NULL,
    year integer NOT NULL,
    seq integer NOT NULL CHECK (seq >= 1),
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'open', 'paid', 'void')),
    currency text NOT NULL DEFAULT 'EUR' CHECK (currency = 'EUR'),
    total_cents bigint NOT NULL CHECK (total_cents >= 0),
    period_start timestamptz NOT NULL,
    period_end timestamptz NOT NULL,
    customer jsonb NOT NULL DEFAULT '{}',
    provider_invoice_id text,
    issued_at timestamptz,
    paid_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, number),
    UNIQUE (organization_id, year, seq)
);

CREATE TABLE invoice_lines (
    organization_id uuid NOT NULL,
    id uuid NOT NULL,
    invoice_id uuid NOT NULL,
    description text NOT NULL,
    quantity integer NOT NULL CHECK (quantity >= 1),
    unit_cents bigint NOT NULL,
    amount_cents bigint NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, invoice_id) REFERENCES invoices (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX invoice_lines_invoice ON invoice_lines (organization_id, invoice_id);

CREATE TABLE api_keys (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix text NOT NULL,
    key_hash bytea NOT NULL UNIQUE,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    PRIMARY KEY (organization_id, id)
);
