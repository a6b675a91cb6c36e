-- Acme Mutual back office: the database schema.
-- Every table has `id INTEGER PRIMARY KEY`. Dates are 'YYYY-MM-DD', timestamps 'YYYY-MM-DDTHH:MM:SS'
-- from the application's deterministic clock. Foreign keys are declared for documentation; the
-- application checks references itself (a deleted customer's financial records are kept).

CREATE TABLE staff (
    id          INTEGER PRIMARY KEY,
    username    TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('agent', 'adjuster', 'manager', 'admin')),
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

CREATE TABLE customers (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL,
    email           TEXT NOT NULL,
    phone           TEXT,
    address         TEXT,
    date_of_birth   TEXT,
    smoker          INTEGER CHECK (smoker IN (0, 1)),
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    created_at      TEXT NOT NULL
);
CREATE INDEX customers_email ON customers (email COLLATE NOCASE);

CREATE TABLE policies (
    id              INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    customer_id     INTEGER NOT NULL REFERENCES customers (id),
    product         TEXT NOT NULL CHECK (product IN ('auto', 'home', 'life', 'travel')),
    status          TEXT NOT NULL CHECK (status IN ('active', 'lapsed', 'cancelled')),
    premium_monthly REAL NOT NULL,
    start_date      TEXT NOT NULL,
    end_date        TEXT NOT NULL,
    cancel_reason   TEXT,
    cancelled_at    TEXT
);
CREATE INDEX policies_customer ON policies (customer_id);

CREATE TABLE quotes (
    id              INTEGER PRIMARY KEY,
    customer_id     INTEGER NOT NULL REFERENCES customers (id),
    product         TEXT NOT NULL CHECK (product IN ('auto', 'home', 'life', 'travel')),
    inputs          TEXT NOT NULL,
    premium_monthly REAL,
    status          TEXT NOT NULL CHECK (status IN ('quoted', 'declined', 'accepted')),
    reason          TEXT,
    policy_id       INTEGER REFERENCES policies (id),
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL
);

CREATE TABLE claims (
    id              INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    policy_id       INTEGER NOT NULL REFERENCES policies (id),
    type            TEXT NOT NULL,
    description     TEXT NOT NULL,
    amount_claimed  REAL NOT NULL,
    amount_approved REAL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'under_review', 'approved', 'rejected', 'paid')),
    assigned_to     TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX claims_policy ON claims (policy_id);

CREATE TABLE payments (
    id              INTEGER PRIMARY KEY,
    policy_id       INTEGER NOT NULL REFERENCES policies (id),
    customer_id     INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('premium', 'payout', 'refund')),
    amount          REAL NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('completed', 'pending')),
    reference       TEXT,
    approved_by     TEXT,
    refund_of       INTEGER REFERENCES payments (id),
    claim_id        INTEGER REFERENCES claims (id),
    reason          TEXT,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX payments_customer ON payments (customer_id);

-- A manager's sign-off of a payout (claim_id) or a refund (payment_id: the premium payment refunded), up to
-- amount. Written only by the approving manager's own request (approvePayout, approveRefund): approver is
-- the user who made that request, never a name given by someone else.
CREATE TABLE approvals (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('payout', 'refund')),
    claim_id        INTEGER REFERENCES claims (id),
    payment_id      INTEGER REFERENCES payments (id),
    amount          REAL NOT NULL,
    approver        TEXT NOT NULL,
    note            TEXT,
    created_at      TEXT NOT NULL
);

CREATE TABLE tasks (
    id              INTEGER PRIMARY KEY,
    customer_id     INTEGER,
    title           TEXT NOT NULL,
    due_date        TEXT NOT NULL,
    assigned_to     TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    created_by      TEXT NOT NULL,
    created_at      TEXT
);

CREATE TABLE notes (
    id              INTEGER PRIMARY KEY,
    customer_id     INTEGER NOT NULL,
    claim_id        INTEGER,
    author          TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL
);

CREATE TABLE documents (
    id              INTEGER PRIMARY KEY,
    customer_id     INTEGER NOT NULL,
    claim_id        INTEGER,
    title           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    content         TEXT NOT NULL,
    created_at      TEXT
);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    customer_id     INTEGER NOT NULL,
    direction       TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_by      TEXT,
    created_at      TEXT NOT NULL
);

CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    staff           TEXT NOT NULL,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    status          INTEGER NOT NULL,
    at              TEXT NOT NULL
);
