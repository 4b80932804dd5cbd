//! The archive's migrations: the SQL files of `migrations/`, applied in order, each
//! once, recorded in `{schema}.wecom_migrations`, under an advisory lock.

use tokio_postgres::Client;

use crate::error::StoreError;

/// The migrations, in order: (version, name, SQL with `{schema}`).
const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "archive",
    include_str!("../../migrations/0001_archive.sql"),
)];

/// A schema name: `[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes (PostgreSQL's limit).
pub(crate) fn check_schema(schema: &str) -> Result<(), StoreError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(StoreError::new(format!(
            "postgres: {schema:?} is not a schema name (letters, digits and _, not starting with a digit, at most 63)"
        )))
    }
}

pub(crate) fn pg_error(action: &str, e: &tokio_postgres::Error) -> StoreError {
    StoreError::new(format!("postgres: {action}: {e}"))
}

/// Creates the schema and applies the migrations not applied yet.
pub(crate) async fn apply(client: &Client, schema: &str) -> Result<(), StoreError> {
    let err = |action: &'static str| move |e: tokio_postgres::Error| pg_error(action, &e);
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {schema}.wecom_migrations (
                 version INT PRIMARY KEY, name TEXT NOT NULL,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        ))
        .await
        .or_else(|e| {
            // Two instances creating the schema at once: one wins, the other sees a
            // unique violation; the lock below orders the rest.
            if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
                Ok(())
            } else {
                Err(pg_error("create the schema", &e))
            }
        })?;
    for (version, name, sql) in MIGRATIONS {
        client
            .batch_execute("BEGIN")
            .await
            .map_err(err("begin a migration"))?;
        let applied = async {
            client
                .execute(
                    "SELECT pg_advisory_xact_lock(hashtext($1))",
                    &[&format!("wecom-archive:{schema}")],
                )
                .await
                .map_err(err("lock the migrations"))?;
            let done = client
                .query_opt(
                    &format!("SELECT 1 FROM {schema}.wecom_migrations WHERE version = $1"),
                    &[version],
                )
                .await
                .map_err(err("read the applied migrations"))?;
            if done.is_none() {
                client
                    .batch_execute(&sql.replace("{schema}", schema))
                    .await
                    .map_err(|e| pg_error(&format!("migration {version} ({name})"), &e))?;
                client
                    .execute(
                        &format!(
                            "INSERT INTO {schema}.wecom_migrations (version, name) VALUES ($1, $2)"
                        ),
                        &[version, name],
                    )
                    .await
                    .map_err(err("record a migration"))?;
                tracing::info!(schema, version, name, "archive migration applied");
            }
            Ok::<(), StoreError>(())
        }
        .await;
        let end = if applied.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        client
            .batch_execute(end)
            .await
            .map_err(err("end a migration"))?;
        applied?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_schema;

    #[test]
    fn schema_names_are_identifiers() {
        for ok in ["wecom", "wecom_test_1", "_x", "A1"] {
            assert!(check_schema(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1abc", "a-b", "a;drop", "a b", "ä", &"x".repeat(64)] {
            assert!(check_schema(bad).is_err(), "{bad}");
        }
    }
}
