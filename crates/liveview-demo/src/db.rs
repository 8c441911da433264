//! The demo's SQLite database: `articles` to search (seeded on first start)
//! and `messages` for the chat room.
//!
//! A few connections ([`POOL_SIZE`]), each owned by a thread of its own
//! that runs the queries sent to it. However many queries wait, they wait
//! as tasks in one queue, not as threads: with one connection behind a
//! mutex on tokio's blocking pool, a search under load grew that pool to
//! 237 threads, all queued on the mutex. WAL lets the connections read at
//! once; SQLite serialises the writes.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use tokio::sync::oneshot;

/// A database call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite returned an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking task running the query panicked or was cancelled.
    #[error("database task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The database's threads are gone (one could not be started, or the
    /// query panicked).
    #[error("database threads unavailable")]
    Closed,
    /// A database thread could not be started.
    #[error("cannot start a database thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// The connections a [`Db`] opens, each on its own thread: the most
/// queries that run at once, and all the threads they ever use.
pub const POOL_SIZE: usize = 4;

/// A query, sent to whichever connection's thread is free.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A handle to the database; cheap to clone. The threads end when the last
/// handle is dropped.
#[derive(Clone)]
pub struct Db {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db")
    }
}

/// An article of the search case.
#[derive(Debug, Clone, Serialize)]
pub struct Article {
    /// Row id.
    pub id: i64,
    /// The title searched.
    pub title: String,
    /// Who wrote it.
    pub author: String,
    /// Reading time in minutes.
    pub minutes: i64,
}

/// The answer to a search: the number of matches and the first ones by title.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    /// How many articles match.
    pub total: u64,
    /// The first matches in title order.
    pub articles: Vec<Article>,
}

/// A chat message.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// Row id, increasing: the order of the room.
    pub id: i64,
    /// The name its author gave.
    pub author: String,
    /// The text, as typed (escaped when rendered).
    pub body: String,
    /// Unix time, seconds.
    pub created_at: i64,
}

/// How many articles the first start creates.
pub const SEEDED_ARTICLES: usize = ADJECTIVES.len() * TOPICS.len() * FORMS.len();

const ADJECTIVES: [&str; 12] = [
    "Practical",
    "Modern",
    "Pragmatic",
    "Fearless",
    "Gentle",
    "Hands-on",
    "Idiomatic",
    "Minimal",
    "Advanced",
    "Essential",
    "Effective",
    "Production-Ready",
];

const TOPICS: [&str; 30] = [
    "Rust",
    "WebSockets",
    "SQLite",
    "Django",
    "htmx",
    "Tokio",
    "Axum",
    "Templates",
    "Server Push",
    "Dashboards",
    "Chat Rooms",
    "Form Validation",
    "Debouncing",
    "Caching",
    "DOM Morphing",
    "Accessibility",
    "Progressive Enhancement",
    "Channel Layers",
    "Redis",
    "Background Tasks",
    "Testing",
    "Deployment",
    "Observability",
    "Error Handling",
    "Async Rust",
    "Browser History",
    "CSS Layouts",
    "Rate Limiting",
    "Graceful Shutdown",
    "Benchmarks",
];

const FORMS: [&str; 10] = [
    "Explained",
    "in Practice",
    "from Scratch",
    "Recipes",
    "in Ten Minutes",
    "for Beginners",
    "Patterns",
    "Pitfalls",
    "Deep Dive",
    "Checklist",
];

const AUTHORS: [&str; 8] = [
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Barbara Liskov",
    "Donald Knuth",
    "Margaret Hamilton",
    "Edsger Dijkstra",
    "Frances Allen",
];

/// The `n`th seeded article: every combination of an adjective, a topic and
/// a form, visited in a fixed shuffled order so that ids and titles do not
/// sort alike.
fn seed_article(n: usize) -> (String, &'static str, i64) {
    // 1597 is prime and divides nothing of 3600 = 2^4 3^2 5^2: a permutation.
    let k = (n * 1597) % SEEDED_ARTICLES;
    let adjective = ADJECTIVES[k % ADJECTIVES.len()];
    let topic = TOPICS[(k / ADJECTIVES.len()) % TOPICS.len()];
    let form = FORMS[k / (ADJECTIVES.len() * TOPICS.len())];
    let title = format!("{adjective} {topic} {form}");
    let author = AUTHORS[n % AUTHORS.len()];
    let minutes = 3 + (k % 17) as i64;
    (title, author, minutes)
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `%`, `_` and `\` match themselves in a `LIKE … ESCAPE '\'` pattern.
fn like_pattern(query: &str) -> String {
    let mut pattern = String::with_capacity(query.len() + 2);
    pattern.push('%');
    for c in query.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: row.get(0)?,
        author: row.get(1)?,
        body: row.get(2)?,
        created_at: row.get(3)?,
    })
}

impl Db {
    /// Opens (or creates) the database file, creates the tables and seeds
    /// the articles on first start.
    ///
    /// # Errors
    /// When the file cannot be opened or written.
    pub async fn open(path: impl AsRef<Path>) -> Result<Db, DbError> {
        let path = path.as_ref().to_owned();
        let conns = tokio::task::spawn_blocking(move || -> Result<Vec<_>, DbError> {
            let mut conns = Vec::with_capacity(POOL_SIZE);
            for n in 0..POOL_SIZE {
                let mut conn = Connection::open(&path)?;
                // First: another process (a second node) may be setting the
                // file up at this very moment.
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                wal(&conn)?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                if n == 0 {
                    init(&mut conn)?;
                }
                conns.push(conn);
            }
            Ok(conns)
        })
        .await??;
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for (n, conn) in conns.into_iter().enumerate() {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("demo-db-{n}"))
                .spawn(move || serve_queries(conn, &queue))
                .map_err(DbError::Thread)?;
        }
        Ok(Db { jobs })
    }

    /// Runs `f` on the thread of the next free connection, and waits for
    /// it without holding a thread.
    async fn call<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            // The caller may have gone (a cancelled handler): nobody to tell.
            let _ = answer.send(f(conn));
        });
        self.jobs.send(job).map_err(|_| DbError::Closed)?;
        Ok(answered.await.map_err(|_| DbError::Closed)??)
    }

    /// Articles whose title contains `query` (case-insensitive for ASCII):
    /// how many, and the first `limit` by title.
    ///
    /// # Errors
    /// When the query fails.
    pub async fn search_articles(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<SearchResults, DbError> {
        let pattern = like_pattern(query);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call(move |conn| {
            let total: i64 = conn.query_row(
                r"SELECT count(*) FROM articles WHERE title LIKE ?1 ESCAPE '\'",
                [&pattern],
                |row| row.get(0),
            )?;
            let mut stmt = conn.prepare_cached(
                r"SELECT id, title, author, minutes FROM articles
                  WHERE title LIKE ?1 ESCAPE '\'
                  ORDER BY title COLLATE NOCASE, id LIMIT ?2",
            )?;
            let articles = stmt
                .query_map(params![pattern, limit], |row| {
                    Ok(Article {
                        id: row.get(0)?,
                        title: row.get(1)?,
                        author: row.get(2)?,
                        minutes: row.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(SearchResults {
                total: u64::try_from(total).unwrap_or(0),
                articles,
            })
        })
        .await
    }

    /// The number of articles.
    ///
    /// # Errors
    /// When the query fails.
    pub async fn article_count(&self) -> Result<u64, DbError> {
        self.count("SELECT count(*) FROM articles").await
    }

    /// The number of chat messages stored.
    ///
    /// # Errors
    /// When the query fails.
    pub async fn message_count(&self) -> Result<u64, DbError> {
        self.count("SELECT count(*) FROM messages").await
    }

    async fn count(&self, sql: &'static str) -> Result<u64, DbError> {
        self.call(move |conn| conn.query_row(sql, [], |row| row.get::<_, i64>(0)))
            .await
            .map(|n| u64::try_from(n).unwrap_or(0))
    }

    /// Stores a chat message; returns it with its id and time.
    ///
    /// # Errors
    /// When the insert fails.
    pub async fn add_message(&self, author: &str, body: &str) -> Result<Message, DbError> {
        let (author, body) = (author.to_owned(), body.to_owned());
        self.call(move |conn| {
            let created_at = now_unix();
            conn.execute(
                "INSERT INTO messages (author, body, created_at) VALUES (?1, ?2, ?3)",
                params![author, body, created_at],
            )?;
            Ok(Message {
                id: conn.last_insert_rowid(),
                author,
                body,
                created_at,
            })
        })
        .await
    }

    /// The last `limit` messages, oldest first.
    ///
    /// # Errors
    /// When the query fails.
    pub async fn recent_messages(&self, limit: usize) -> Result<Vec<Message>, DbError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, author, body, created_at FROM
                   (SELECT * FROM messages ORDER BY id DESC LIMIT ?1)
                 ORDER BY id",
            )?;
            stmt.query_map([limit], message_from_row)?.collect()
        })
        .await
    }

    /// Messages stored after the one with id `after`, oldest first, at most `limit`.
    ///
    /// # Errors
    /// When the query fails.
    pub async fn messages_after(&self, after: i64, limit: usize) -> Result<Vec<Message>, DbError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, author, body, created_at FROM
                   (SELECT * FROM messages WHERE id > ?1 ORDER BY id DESC LIMIT ?2)
                 ORDER BY id",
            )?;
            stmt.query_map(params![after, limit], message_from_row)?
                .collect()
        })
        .await
    }
}

/// One connection's thread: runs the queries of the shared queue, one at a
/// time, until every `Db` handle is dropped.
fn serve_queries(mut conn: Connection, queue: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        // The lock is held while waiting: one idle thread waits for the
        // next query, the other idle ones wait for the lock.
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else {
            return;
        };
        // A panicking query loses its answer (its caller gets `Closed`),
        // not the connection's thread.
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut conn))).is_err() {
            tracing::error!("a database query panicked");
        }
    }
}

/// Switches the file to WAL. While another process switches a new file,
/// SQLite answers "database is locked" at once (the busy timeout does not
/// apply there): try again for a few seconds.
fn wal(conn: &Connection) -> rusqlite::Result<()> {
    let mut attempts = 0;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(err, _))
                if err.code == rusqlite::ErrorCode::DatabaseBusy && attempts < 100 =>
            {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

fn init(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS articles (
             id INTEGER PRIMARY KEY,
             title TEXT NOT NULL,
             author TEXT NOT NULL,
             minutes INTEGER NOT NULL
         );
         CREATE INDEX IF NOT EXISTS articles_title ON articles (title COLLATE NOCASE);
         CREATE TABLE IF NOT EXISTS messages (
             id INTEGER PRIMARY KEY AUTOINCREMENT,
             author TEXT NOT NULL,
             body TEXT NOT NULL,
             created_at INTEGER NOT NULL
         );",
    )?;
    // Checked and seeded in one write transaction: two nodes started at once
    // on a new file (`--redis`, one database) seed it once.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let seeded: Option<i64> = tx
        .query_row("SELECT id FROM articles LIMIT 1", [], |row| row.get(0))
        .optional()?;
    if seeded.is_some() {
        return Ok(());
    }
    {
        let mut insert =
            tx.prepare("INSERT INTO articles (title, author, minutes) VALUES (?1, ?2, ?3)")?;
        for n in 0..SEEDED_ARTICLES {
            let (title, author, minutes) = seed_article(n);
            insert.execute(params![title, author, minutes])?;
        }
    }
    tx.commit()?;
    tracing::info!(articles = SEEDED_ARTICLES, "seeded the articles table");
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashSet;

    use super::*;

    #[test]
    fn seeded_titles_are_distinct_and_deterministic() {
        let titles: HashSet<String> = (0..SEEDED_ARTICLES).map(|n| seed_article(n).0).collect();
        assert_eq!(titles.len(), SEEDED_ARTICLES);
        assert_eq!(seed_article(7), seed_article(7));
    }

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(like_pattern("50%_a\\"), r"%50\%\_a\\%");
    }

    #[tokio::test]
    async fn search_and_messages_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join("t.sqlite3")).await.unwrap();
        assert_eq!(db.article_count().await.unwrap(), SEEDED_ARTICLES as u64);

        let found = db.search_articles("rust", 5).await.unwrap();
        assert_eq!(found.articles.len(), 5);
        assert_eq!(found.total, 2 * 12 * 10, "Rust and Async Rust");
        let titles: Vec<&str> = found.articles.iter().map(|a| a.title.as_str()).collect();
        let mut sorted = titles.clone();
        sorted.sort_by_key(|t| t.to_lowercase());
        assert_eq!(titles, sorted);
        assert_eq!(db.search_articles("100%", 5).await.unwrap().total, 0);

        let first = db.add_message("Ada", "<b>hi</b>").await.unwrap();
        let second = db.add_message("Bob", "yo").await.unwrap();
        assert!(second.id > first.id);
        let recent = db.recent_messages(1).await.unwrap();
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[0].body, "yo");
        let after = db.messages_after(first.id, 10).await.unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(db.message_count().await.unwrap(), 2);

        // A second open of the same file keeps everything and seeds nothing more.
        drop(db);
        let again = Db::open(dir.path().join("t.sqlite3")).await.unwrap();
        assert_eq!(again.article_count().await.unwrap(), SEEDED_ARTICLES as u64);
        assert_eq!(
            again.recent_messages(10).await.unwrap()[0].body,
            "<b>hi</b>"
        );
    }

    #[tokio::test]
    async fn two_nodes_opening_a_new_file_at_once_seed_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.sqlite3");
        let (a, b) = tokio::join!(Db::open(&path), Db::open(&path));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.article_count().await.unwrap(), SEEDED_ARTICLES as u64);
        assert_eq!(b.article_count().await.unwrap(), SEEDED_ARTICLES as u64);
    }

    /// Threads of this process named `name` (Linux: `/proc/self/task`).
    #[cfg(target_os = "linux")]
    fn threads_named(name: &str) -> usize {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .filter(|comm| comm.trim_end() == name)
            .count()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_burst_of_queries_does_not_grow_the_blocking_pool() {
        // Its own runtime, so that its blocking threads can be told apart
        // from other tests' by name (idle ones live on for 10 s: the count
        // afterwards is the most that ran at once).
        const NAME: &str = "db-bound-test";
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name(NAME)
            .build()
            .unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let db = Db::open(dir.path().join("t.sqlite3")).await.unwrap();
            let searches = (0..100).map(|_| {
                let db = db.clone();
                tokio::spawn(async move { db.search_articles("rust", 20).await })
            });
            for search in searches.collect::<Vec<_>>() {
                assert_eq!(search.await.unwrap().unwrap().total, 240);
            }
        });
        // Only the thread that opened the file; the queries ran on the
        // database's own POOL_SIZE threads.
        let threads = threads_named(NAME);
        assert!(
            threads <= 1,
            "{threads} blocking threads for a burst of 100 queries"
        );
    }
}
