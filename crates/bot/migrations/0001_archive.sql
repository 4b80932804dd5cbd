-- 0001: the conversation archive. `{schema}` is the sink's schema (an identifier).

-- One row per inbound message (direction 'in') and one per answer (direction 'out',
-- responder 'bot' or 'human').
CREATE TABLE IF NOT EXISTS {schema}.messages (
    id         BIGSERIAL PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    app        TEXT NOT NULL,
    direction  TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    channel    TEXT NOT NULL,
    chat       TEXT,
    customer   TEXT NOT NULL,
    msg_type   TEXT NOT NULL,
    event      TEXT,
    text       TEXT,
    rule       TEXT,
    variant    TEXT,
    responder  TEXT CHECK (responder IN ('bot', 'human')),
    latency_ms BIGINT,
    delivery   TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    msgid      TEXT NOT NULL,
    actions    TEXT[] NOT NULL DEFAULT '{}',
    errors     TEXT[] NOT NULL DEFAULT '{}',
    UNIQUE (app, msgid, direction)
);
CREATE INDEX IF NOT EXISTS messages_customer_at ON {schema}.messages (customer, at);
-- Rows arrive in time order: a BRIN index finds a day's rows at a fraction of a
-- B-tree's cost per insert.
CREATE INDEX IF NOT EXISTS messages_at ON {schema}.messages USING brin (at);

-- Rule hits per UTC day (`Archive::rule_report` takes the rule set's time zone).
CREATE OR REPLACE VIEW {schema}.rule_hits_daily AS
SELECT (at AT TIME ZONE 'UTC')::date AS day, app, rule, count(*) AS hits
FROM {schema}.messages
WHERE direction = 'in' AND rule IS NOT NULL
GROUP BY 1, 2, 3;

-- Every answer with its response time: the bot's decision time, or for a human the
-- time since the customer's last message before the answer.
CREATE OR REPLACE VIEW {schema}.response_times AS
SELECT o.at, o.app, o.channel, o.customer, o.responder, o.rule,
       CASE WHEN o.responder = 'bot' THEN o.latency_ms::float8
            ELSE EXTRACT(EPOCH FROM (o.at - i.at)) * 1000 END AS response_ms
FROM {schema}.messages o
JOIN LATERAL (
    SELECT m.at FROM {schema}.messages m
    WHERE m.direction = 'in' AND m.app = o.app AND m.customer = o.customer AND m.at <= o.at
    ORDER BY m.at DESC
    LIMIT 1
) i ON true
WHERE o.direction = 'out';
