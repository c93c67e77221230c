//! What every test of the suite stands on: a fresh database of either dialect behind a
//! [`SqlStore`], the macros that run one test body on both, and the audit-side assertions.
//!
//! SQLite: a file in a temporary directory, removed with it. PostgreSQL: a database
//! `palisade_t_<random>` on the local server (127.0.0.1:5432, user `postgres`, trust auth, as
//! on CI), created with an ICU `en-US` collation so that a listing which forgets to sort
//! bytewise comes out in a different order than on SQLite, and dropped when the test ends, also
//! when it panics. Without a reachable server the PostgreSQL variants fail: they never skip.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use domain::audit::{Actor, AuditDraft, Outcome};
use domain::ports::Store;
use sqlx::{Connection, PgConnection};
use store::{Dialect, SqlStore};
use uuid::Uuid;

/// `store_test!(name);` beside `async fn name(db: &TestBackend)` adds two tests,
/// `name::sqlite` and `name::postgres`, each running it on a fresh database of its dialect.
/// (A function without its macro is never called, and the dead-code lint says so.)
macro_rules! store_test {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = crate::support::TestBackend::create(store::Dialect::Sqlite).await;
                super::$name(&db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = crate::support::TestBackend::create(store::Dialect::Postgres).await;
                super::$name(&db).await;
            }
        }
    };
}

/// Like [`store_test!`] for what only PostgreSQL has (several console replicas on one
/// database, advisory locks, `TRUNCATE`): one test, `name::postgres`. Say why at the use.
macro_rules! postgres_test {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = crate::support::TestBackend::create(store::Dialect::Postgres).await;
                super::$name(&db).await;
            }
        }
    };
}

/// The maintenance database the PostgreSQL tests create their own databases from.
const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

async fn admin_connection() -> PgConnection {
    let hint = "PostgreSQL at 127.0.0.1:5432 is required for the store tests (user postgres, \
                trust auth, as on CI); start it and run them again";
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(ADMIN_URL)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => panic!("{hint}: {e}"),
        Err(_) => panic!("{hint}: no answer within 10 s"),
    }
}

/// A fresh PostgreSQL database, dropped (with any connection still open to it) when the value
/// is dropped, also when the test panics.
struct TestDb {
    name: String,
}

impl TestDb {
    async fn create() -> TestDb {
        let name = format!("palisade_t_{}", Uuid::new_v4().simple());
        let mut admin = admin_connection().await;
        // An identifier cannot be bound; the name is ours (hex digits only). ICU `en-US` sorts
        // "a" before "B", as most production servers' locales do; the store must not rely on
        // the server's collation for its listings.
        sqlx::raw_sql(&format!(
            "CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
        ))
        .execute(&mut admin)
        .await
        .expect("create the test database");
        admin.close().await.expect("close");
        TestDb { name }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop cannot await: drop the database from a runtime of its own on another thread.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let mut admin = PgConnection::connect(ADMIN_URL).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!("dropping test database {}: {dropped:?}", self.name);
        }
    }
}

enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(TestDb),
}

/// A fresh, empty database of one dialect, removed when dropped.
pub struct TestDatabase {
    place: Place,
}

impl TestDatabase {
    pub async fn create(dialect: Dialect) -> TestDatabase {
        let place = match dialect {
            Dialect::Sqlite => Place::Sqlite(tempfile::tempdir().expect("tempdir")),
            Dialect::Postgres => Place::Postgres(TestDb::create().await),
        };
        TestDatabase { place }
    }

    pub fn url(&self) -> String {
        match &self.place {
            Place::Sqlite(dir) => format!("sqlite://{}", dir.path().join("palisade.db").display()),
            Place::Postgres(db) => db.url(),
        }
    }
}

/// A fresh database of one dialect and a store opened on it. Derefs to the store, so a test
/// calls the ports on it directly (`db.clients()`).
pub struct TestBackend {
    store: Arc<SqlStore>,
    db: TestDatabase,
}

impl TestBackend {
    pub async fn create(dialect: Dialect) -> TestBackend {
        let backend = TestBackend::on(TestDatabase::create(dialect).await).await;
        assert_eq!(backend.dialect(), dialect);
        backend
    }

    /// Opens a store on `db` (migrating it if it is empty).
    pub async fn on(db: TestDatabase) -> TestBackend {
        let store = Arc::new(open_url(&db.url()).await);
        TestBackend { store, db }
    }

    pub fn dialect(&self) -> Dialect {
        self.store.dialect()
    }

    pub fn url(&self) -> String {
        self.db.url()
    }

    /// The store, for services that hold it.
    pub fn store(&self) -> Arc<SqlStore> {
        self.store.clone()
    }

    /// Another store over the same database: a restart, or a second console replica.
    pub async fn open(&self) -> SqlStore {
        open_url(&self.url()).await
    }

    /// Someone else writing at the same time, as each dialect is deployed: on PostgreSQL a
    /// second console replica (its own pool); on SQLite another task of the one console
    /// process (an embedded database has a single writer connection).
    pub async fn second_writer(&self) -> Arc<SqlStore> {
        match self.dialect() {
            Dialect::Sqlite => self.store(),
            Dialect::Postgres => Arc::new(self.open().await),
        }
    }

    /// A connection outside the store, of the database's own driver. SQLite ignores the
    /// `application_name` parameter the store adds, so the URL is plain.
    pub async fn raw(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&self.url())
            .await
            .expect("connect")
    }

    /// The actions of the audit chain, oldest first.
    pub async fn audit_actions(&self) -> Vec<String> {
        let mut events = self.recent_audit(100_000).await.expect("read the audit");
        events.reverse();
        events.into_iter().map(|e| e.action).collect()
    }

    /// The audit chain holds exactly `actions`, in this order, and verifies: each applied
    /// change wrote one event, each refused one none.
    pub async fn assert_audit(&self, actions: &[&str]) {
        assert_eq!(self.audit_actions().await, actions, "the audit chain");
        assert_eq!(
            self.verify_audit(None).await.expect("walk the audit"),
            Ok(actions.len() as i64),
            "the audit chain verifies"
        );
    }
}

impl Deref for TestBackend {
    type Target = SqlStore;

    fn deref(&self) -> &SqlStore {
        &self.store
    }
}

async fn open_url(url: &str) -> SqlStore {
    SqlStore::open(url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

/// The event of a change made by the system in a test; `action` names it in the chain.
pub fn draft(action: &str) -> AuditDraft {
    AuditDraft::new(&Actor::system(), action, "test", Outcome::Success)
}
