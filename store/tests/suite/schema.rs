//! Migrations: both dialects have the same numbered files, each applied exactly once however
//! often the console restarts, and replicas starting at once on an empty PostgreSQL database
//! migrate it once.

use domain::ports::Store;
use sqlx::Connection;
use store::{OpenError, SqlStore};

use crate::support::{draft, TestBackend};

/// The migration file names of one dialect, sorted.
fn migration_files(dialect: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(dialect);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("migrations dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    names
}

#[test]
fn the_two_backends_have_the_same_migrations() {
    let pg = migration_files("postgres");
    assert!(pg.len() >= 5, "{pg:?}");
    assert_eq!(
        migration_files("sqlite"),
        pg,
        "every migration exists for both backends, same name"
    );
}

#[tokio::test]
async fn an_unsupported_database_url_is_refused() {
    assert!(matches!(
        SqlStore::open("mysql://db.example/palisade").await,
        Err(OpenError::Unsupported(_))
    ));
}

/// Each migration of `db`'s dialect is recorded once, as applied.
async fn assert_migrated_once(db: &TestBackend) {
    let mut raw = db.raw().await;
    let applied: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT version, CASE WHEN success THEN 1 ELSE 0 END FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&mut raw)
    .await
    .expect("migrations table");
    raw.close().await.expect("close");
    let dialect = match db.dialect() {
        store::Dialect::Sqlite => "sqlite",
        store::Dialect::Postgres => "postgres",
    };
    let expected: Vec<(i64, i64)> = migration_files(dialect)
        .iter()
        .map(|f| {
            let n = f.split('_').next().and_then(|n| n.parse().ok());
            (n.unwrap_or(-1), 1)
        })
        .collect();
    assert_eq!(applied, expected, "each migration applied exactly once");
}

store_test!(migrations_apply_once_and_reopening_is_idempotent);
/// Restarting the console (opening the store again) applies nothing twice and keeps the data.
async fn migrations_apply_once_and_reopening_is_idempotent(db: &TestBackend) {
    db.record(draft("test.before_restart"))
        .await
        .expect("append");
    for _ in 0..2 {
        let again = db.open().await;
        again.ready().await.expect("schema current");
    }
    assert_migrated_once(db).await;
    db.assert_audit(&["test.before_restart"]).await;
}

/// PostgreSQL only: several console replicas may start at once on an empty shared database
/// (the migrator's advisory lock serialises them). An SQLite file has one console process.
/// Written out instead of `postgres_test!`, which hands over a database migrated already.
mod two_replicas_starting_at_once_migrate_once {
    use super::*;
    use crate::support::TestDatabase;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let empty = TestDatabase::create(store::Dialect::Postgres).await;
        let url = empty.url();
        let (a, b) = tokio::join!(SqlStore::open(&url), SqlStore::open(&url));
        let (a, b) = (a.expect("first replica"), b.expect("second replica"));
        a.record(draft("test.replica_a")).await.expect("append");
        b.ready().await.expect("schema current");
        // A third replica, started later, finds everything applied and the data there.
        let db = TestBackend::on(empty).await;
        assert_migrated_once(&db).await;
        db.assert_audit(&["test.replica_a"]).await;
    }
}
